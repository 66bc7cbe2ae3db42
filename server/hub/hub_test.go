package hub

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/datadir"
	"scsweep/server/store"
	"scsweep/server/wire"
)

type fixture struct {
	hub   *Hub
	store *store.Store
	dir   *datadir.Dir
	url   string
	tls   *tls.Config
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, tweak func(*Config)) *fixture {
	t.Helper()
	dir, err := datadir.Open(t.TempDir(), datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir.Path, datadir.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{EnrollSecret: dir.EnrollSecret, SigningKey: dir.SigningKey, Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil)), Grace: 200 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = dir.TLSConfig()
	srv.StartTLS()
	ctls, err := dir.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		st.Close()
	})
	return &fixture{hub: h, store: st, dir: dir, url: "wss://" + srv.Listener.Addr().String() + "/", tls: ctls, logs: logs}
}

// client is a bare protocol client: it lets tests send what a real agent
// never would.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (f *fixture) dial(t *testing.T) *client {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: f.tls, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(f.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) send(m *wire.Message) {
	c.t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send %s: %v", m.Type, err)
	}
}

func (c *client) recv() (*wire.Message, error) {
	c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

func (c *client) mustRecv(want wire.Type) *wire.Message {
	c.t.Helper()
	m, err := c.recv()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", want, err)
	}
	if m.Type != want {
		c.t.Fatalf("got %s %+v, want %s", m.Type, m, want)
	}
	return m
}

// enroll connects a host with the secret and returns its client and key.
func (f *fixture) enroll(t *testing.T, host string) (*client, string) {
	t.Helper()
	c := f.dial(t)
	c.send(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{HostID: host, EnrollSecret: f.dir.EnrollSecret}})
	w := c.mustRecv(wire.TypeWelcome).Welcome
	if w.NodeKey == "" {
		t.Fatalf("enrollment welcome without a node key")
	}
	waitFor(t, func() bool { return sessionOf(f.hub, host) != nil })
	return c, w.NodeKey
}

func sessionOf(h *Hub, host string) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[host]
}

// waitFor polls cond; the test's own timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEnrollmentStoresOnlyTheKeyHash(t *testing.T) {
	f := newFixture(t, nil)
	c, key := f.enroll(t, "host-a")
	c.ws.Close()
	h, err := f.store.Host(context.Background(), "host-a")
	if err != nil {
		t.Fatal(err)
	}
	if h.NodeKeyHash != HashNodeKey(key) {
		t.Errorf("got stored hash %q, want HashNodeKey(node key)", h.NodeKeyHash)
	}
	if strings.Contains(h.NodeKeyHash, key) {
		t.Errorf("the node key itself is stored")
	}
	// Reconnect with the key.
	c2 := f.dial(t)
	c2.send(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{HostID: "host-a", NodeKey: key, AgentVersion: "2"}})
	w := c2.mustRecv(wire.TypeWelcome).Welcome
	if w.NodeKey != "" {
		t.Errorf("reconnect got node key %q, want none (only enrollment hands one out)", w.NodeKey)
	}
	if !bytes.Equal(w.QueryKey, f.dir.SigningKey.Public().(ed25519.PublicKey)) {
		t.Errorf("welcome query key differs from the signing key's public half")
	}
}

func TestRefusedHostsAreLoggedAndNotStored(t *testing.T) {
	f := newFixture(t, nil)
	_, key := f.enroll(t, "known")
	cases := []struct {
		name    string
		hello   *wire.Hello
		wantLog string
	}{
		{"wrong enroll secret", &wire.Hello{HostID: "intruder", EnrollSecret: "guess-guess-guess"}, "wrong enroll secret"},
		{"node key of another host", &wire.Hello{HostID: "intruder", NodeKey: key}, "unknown host"},
		{"wrong node key", &wire.Hello{HostID: "known", NodeKey: "forged"}, "wrong node key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := f.dial(t)
			cl.send(&wire.Message{Type: wire.TypeHello, Hello: c.hello})
			m := cl.mustRecv(wire.TypeError)
			if m.Error.Code != wire.CodeUnauthorized {
				t.Errorf("got code %q, want %q", m.Error.Code, wire.CodeUnauthorized)
			}
			if _, err := cl.recv(); err == nil {
				t.Errorf("got another message, want the connection closed")
			}
			if !strings.Contains(f.logs.String(), c.wantLog) {
				t.Errorf("log lacks %q:\n%s", c.wantLog, f.logs.String())
			}
		})
	}
	if _, err := f.store.Host(context.Background(), "intruder"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused host: got %v, want nothing stored", err)
	}
	if got := f.hub.Connected(); got != 1 {
		t.Errorf("got %d sessions, want 1 (the known host only)", got)
	}
}

func TestFirstMessageMustBeHello(t *testing.T) {
	f := newFixture(t, nil)
	for _, raw := range []string{`{"v":1,"type":"ping","ping":{}}`, `not json`, `{"v":9,"type":"hello"}`} {
		cl := f.dial(t)
		cl.ws.WriteMessage(websocket.TextMessage, []byte(raw))
		if m := cl.mustRecv(wire.TypeError); m.Error.Code != wire.CodeBadRequest {
			t.Errorf("%s: got code %q, want %q", raw, m.Error.Code, wire.CodeBadRequest)
		}
	}
}

// answer replies to a query with rows split in chunks of size n.
func (c *client) answer(q *wire.Query, rows []map[string]string, n int) {
	c.t.Helper()
	seq := 0
	for i := 0; ; i += n {
		end := min(i+n, len(rows))
		r := &wire.Result{QueryID: q.ID, Attempt: q.Attempt, Seq: seq, Rows: rows[i:end]}
		if end == len(rows) {
			r.Final, r.Status, r.Stats = true, wire.StatusOK, &wire.Stats{Rows: len(rows)}
		}
		c.send(&wire.Message{Type: wire.TypeResult, Result: r})
		seq++
		if end == len(rows) {
			return
		}
	}
}

func rowsN(n int) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"pid": fmt.Sprint(i)}
	}
	return out
}

func TestPushCollectsChunkedAnswersAndAcks(t *testing.T) {
	f := newFixture(t, nil)
	a, _ := f.enroll(t, "a")
	b, _ := f.enroll(t, "b")
	p, err := f.hub.Push(context.Background(), []string{"a", "b", "never-seen"}, "select pid from processes", time.Now().Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		q := c.mustRecv(wire.TypeQuery).Query
		v := wire.NewVerifier(f.dir.SigningKey.Public().(ed25519.PublicKey))
		if err := v.Check(q); err != nil {
			t.Fatalf("pushed query does not verify: %v", err)
		}
		c.answer(q, rowsN(25), 10)
		if ack := c.mustRecv(wire.TypeAck).Ack; ack.QueryID != q.ID {
			t.Errorf("got ack for %s, want %s", ack.QueryID, q.ID)
		}
	}
	got := map[string]HostResult{}
	for _, r := range p.Wait() {
		got[r.HostID] = r
	}
	for _, h := range []string{"a", "b"} {
		if r := got[h]; r.Status != wire.StatusOK || len(r.Rows) != 25 || r.Rows[24]["pid"] != "24" {
			t.Errorf("host %s: got %s with %d rows, want ok with 25 in order", h, r.Status, len(r.Rows))
		}
	}
	if r := got["never-seen"]; r.Status != StatusOffline {
		t.Errorf("host never-seen: got %s, want %s", r.Status, StatusOffline)
	}
}

func TestSilentHostDoesNotBlockOthers(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.WriteTimeout = time.Second })
	silent, _ := f.enroll(t, "silent")
	_ = silent // connected, reads nothing, answers nothing
	fast, _ := f.enroll(t, "fast")
	p, err := f.hub.Push(context.Background(), []string{"silent", "fast"}, "select 1", time.Now().Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	q := fast.mustRecv(wire.TypeQuery).Query
	fast.answer(q, rowsN(1), 10)
	first := <-p.Results
	if first.HostID != "fast" || first.Status != wire.StatusOK {
		t.Fatalf("got first result %s %s, want fast ok while silent has not answered", first.HostID, first.Status)
	}
	second := <-p.Results
	if second.HostID != "silent" || second.Status != StatusNoAnswer {
		t.Errorf("got %s %s, want silent %s", second.HostID, second.Status, StatusNoAnswer)
	}
}

func TestReconnectMidAnswerResendsAndLosesNothing(t *testing.T) {
	f := newFixture(t, nil)
	c, key := f.enroll(t, "h")
	p, err := f.hub.Push(context.Background(), []string{"h"}, "select 1", time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	q := c.mustRecv(wire.TypeQuery).Query
	// Half an answer, then the host dies.
	c.send(&wire.Message{Type: wire.TypeResult, Result: &wire.Result{QueryID: q.ID, Attempt: q.Attempt, Seq: 0, Rows: rowsN(5)}})
	c.ws.Close()
	waitFor(t, func() bool { return sessionOf(f.hub, "h") == nil })

	c2 := f.dial(t)
	c2.send(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{HostID: "h", NodeKey: key}})
	c2.mustRecv(wire.TypeWelcome)
	q2 := c2.mustRecv(wire.TypeQuery).Query
	if q2.ID != q.ID || q2.Attempt != q.Attempt+1 {
		t.Fatalf("got re-sent query %s attempt %d, want %s attempt %d", q2.ID, q2.Attempt, q.ID, q.Attempt+1)
	}
	c2.answer(q2, rowsN(8), 3)
	res := p.Wait()
	if len(res) != 1 || res[0].Status != wire.StatusOK || len(res[0].Rows) != 8 || res[0].Attempts != 2 {
		t.Fatalf("got %+v, want one ok answer of 8 rows after 2 attempts", res)
	}
}

func TestHeldAnswerIsNotRerun(t *testing.T) {
	f := newFixture(t, nil)
	c, key := f.enroll(t, "h")
	p, err := f.hub.Push(context.Background(), []string{"h"}, "select 1", time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	q := c.mustRecv(wire.TypeQuery).Query
	c.ws.Close()
	waitFor(t, func() bool { return sessionOf(f.hub, "h") == nil })
	c2 := f.dial(t)
	c2.send(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{HostID: "h", NodeKey: key, Held: []wire.QueryRef{q.Ref()}}})
	c2.mustRecv(wire.TypeWelcome)
	c2.answer(q, rowsN(2), 10)
	// The next message must be the ack, not a re-sent query.
	c2.mustRecv(wire.TypeAck)
	if res := p.Wait(); len(res) != 1 || len(res[0].Rows) != 2 || res[0].Attempts != 1 {
		t.Errorf("got %+v, want the held answer with 2 rows, 1 attempt", res)
	}
}

func TestOutOfOrderChunksAreDropped(t *testing.T) {
	f := newFixture(t, nil)
	c, _ := f.enroll(t, "h")
	p, err := f.hub.Push(context.Background(), []string{"h"}, "select 1", time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	q := c.mustRecv(wire.TypeQuery).Query
	c.send(&wire.Message{Type: wire.TypeResult, Result: &wire.Result{QueryID: q.ID, Seq: 0, Rows: rowsN(1)}})
	c.send(&wire.Message{Type: wire.TypeResult, Result: &wire.Result{QueryID: q.ID, Seq: 2, Rows: rowsN(1), Final: true, Status: wire.StatusOK}})
	res := p.Wait()
	if len(res) != 1 || res[0].Status != StatusNoAnswer {
		t.Errorf("got %+v, want no_answer: a gap in the chunks is not an answer", res)
	}
}

func TestMalformedMessageEndsSession(t *testing.T) {
	f := newFixture(t, nil)
	c, _ := f.enroll(t, "h")
	c.ws.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"result","result":{"query_id":"","final":true}}`))
	if m := c.mustRecv(wire.TypeError); m.Error.Code != wire.CodeBadRequest {
		t.Errorf("got %q, want bad_request", m.Error.Code)
	}
	waitFor(t, func() bool { return sessionOf(f.hub, "h") == nil })
}

func TestPushRefusesBadArguments(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name     string
		sql      string
		deadline time.Time
	}{
		{"empty sql", "", time.Now().Add(time.Minute)},
		{"deadline passed", "select 1", time.Now().Add(-time.Second)},
		{"deadline too far", "select 1", time.Now().Add(2 * time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.hub.Push(context.Background(), []string{"x"}, c.sql, c.deadline); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestCancelEndsPush(t *testing.T) {
	f := newFixture(t, nil)
	f.enroll(t, "h")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := f.hub.Push(ctx, []string{"h"}, "select 1", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if res := p.Wait(); len(res) != 1 || res[0].Status != StatusCanceled {
		t.Errorf("got %+v, want canceled", res)
	}
}

func TestPresenceIsStored(t *testing.T) {
	f := newFixture(t, nil)
	c, _ := f.enroll(t, "h")
	ctx := context.Background()
	c.ws.Close()
	waitFor(t, func() bool {
		h, err := f.store.Host(ctx, "h")
		return err == nil && !h.Online
	})
}

func TestSilentConnectionIsClosedByLiveness(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PingInterval = 50 * time.Millisecond; c.WriteTimeout = 50 * time.Millisecond })
	c := f.dial(t)
	c.send(&wire.Message{Type: wire.TypeHello, Hello: &wire.Hello{HostID: "mute", EnrollSecret: f.dir.EnrollSecret}})
	c.mustRecv(wire.TypeWelcome)
	waitFor(t, func() bool { return sessionOf(f.hub, "mute") != nil })
	// The client reads nothing more, so it never answers a ping.
	waitFor(t, func() bool { return sessionOf(f.hub, "mute") == nil })
}

func TestAnsweringConnectionStaysOpen(t *testing.T) {
	// Long enough that a loaded machine's scheduling delays do not look like
	// silence: the hub closes after two intervals without a pong.
	f := newFixture(t, func(c *Config) { c.PingInterval = 400 * time.Millisecond })
	c, _ := f.enroll(t, "chatty")
	var pings atomic.Int32
	c.ws.SetPingHandler(func(s string) error {
		pings.Add(1)
		return c.ws.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	// Reading drives gorilla's ping handling.
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// Four pings answered span two read deadlines of the hub.
	for pings.Load() < 4 {
		if sessionOf(f.hub, "chatty") == nil {
			t.Fatalf("session closed after %d pings answered, want it kept", pings.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
