package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/wire"
)

// fakeSweeper speaks the protocol by hand, so tests can send what a real
// sweeper never would: tampered, expired and replayed queries.
type fakeSweeper struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *peer
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	caPEM []byte
}

type peer struct {
	t     *testing.T
	ws    *websocket.Conn
	hello *wire.Hello
}

func newFakeSweeper(t *testing.T) *fakeSweeper {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f := &fakeSweeper{t: t, conns: make(chan *peer, 4), pub: pub, priv: priv}
	up := websocket.Upgrader{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		p := &peer{t: t, ws: ws}
		m := p.recv()
		if m == nil || m.Type != wire.TypeHello {
			ws.Close()
			return
		}
		p.hello = m.Hello
		f.conns <- p
	}))
	t.Cleanup(f.srv.Close)
	f.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	return f
}

func (f *fakeSweeper) url() string { return "wss://" + f.srv.Listener.Addr().String() + "/" }

func (p *peer) send(m *wire.Message) {
	p.t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		p.t.Fatal(err)
	}
	p.ws.WriteMessage(websocket.TextMessage, b)
}

func (p *peer) recv() *wire.Message {
	p.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := p.ws.ReadMessage()
	if err != nil {
		return nil
	}
	m, err := wire.Decode(b)
	if err != nil {
		p.t.Errorf("agent sent a malformed message: %v", err)
		return nil
	}
	return m
}

func (f *fakeSweeper) welcome(p *peer) {
	p.send(&wire.Message{Type: wire.TypeWelcome, Welcome: &wire.Welcome{HostID: p.hello.HostID, NodeKey: "node-key-1",
		ChunkRows: 2, ChunkBytes: 1 << 16, QueryKey: f.pub}})
}

// answer collects the chunks of one answer.
func (p *peer) answer() (rows []map[string]string, final *wire.Result) {
	p.t.Helper()
	for {
		m := p.recv()
		if m == nil {
			p.t.Fatal("connection ended before the final chunk")
		}
		if m.Type != wire.TypeResult {
			continue
		}
		rows = append(rows, m.Result.Rows...)
		if m.Result.Final {
			return rows, m.Result
		}
	}
}

type recorder struct {
	mu  sync.Mutex
	ran []string
}

func (r *recorder) run(ctx context.Context, sql string) ([]map[string]string, error) {
	r.mu.Lock()
	r.ran = append(r.ran, sql)
	r.mu.Unlock()
	if strings.Contains(sql, "fail") {
		return nil, errors.New("no such table: fail")
	}
	return []map[string]string{{"n": "1"}, {"n": "2"}, {"n": "3"}}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ran)
}

func startAgent(t *testing.T, f *fakeSweeper, cfg Config, run Runner) (*Agent, context.CancelFunc) {
	t.Helper()
	cfg.URL, cfg.CAPEM, cfg.EnrollSecret = f.url(), f.caPEM, "secret-secret-secret"
	if cfg.HostID == "" {
		cfg.HostID = "host-1"
	}
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(cfg, run)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, cancel
}

func (f *fakeSweeper) query(id string, attempt int, sql string, issued, expires time.Time, key ed25519.PrivateKey) *wire.Message {
	q := &wire.Query{ID: id, Attempt: attempt, SQL: sql, Issued: issued.UnixMilli(), Expires: expires.UnixMilli()}
	wire.Sign(key, q)
	return &wire.Message{Type: wire.TypeQuery, Query: q}
}

func TestAgentChecksEveryQuery(t *testing.T) {
	f := newFakeSweeper(t)
	rec := &recorder{}
	startAgent(t, f, Config{}, rec.run)
	p := <-f.conns
	if p.hello.EnrollSecret == "" || p.hello.HostID != "host-1" {
		t.Fatalf("got hello %+v, want an enrollment of host-1", p.hello)
	}
	f.welcome(p)
	now := time.Now()
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	good := f.query("q1", 0, "select n from t", now, now.Add(time.Minute), f.priv)
	tampered := f.query("q2", 0, "select n from t", now, now.Add(time.Minute), f.priv)
	tampered.Query.SQL = "select * from processes"
	cases := []struct {
		name       string
		msg        *wire.Message
		wantStatus wire.Status
		wantRows   int
		wantErr    string
	}{
		{"good query runs, answer in chunks of 2", good, wire.StatusOK, 3, ""},
		{"same query again is a replay", good, wire.StatusReplayed, 0, "already run"},
		{"tampered sql", tampered, wire.StatusBadSignature, 0, "signature"},
		{"signed by another key", f.query("q3", 0, "select 1", now, now.Add(time.Minute), otherKey), wire.StatusBadSignature, 0, "signature"},
		{"expired", f.query("q4", 0, "select 1", now.Add(-time.Hour), now.Add(-30*time.Minute), f.priv), wire.StatusExpired, 0, "validity window"},
		{"issued in the future", f.query("q5", 0, "select 1", now.Add(time.Hour), now.Add(time.Hour+time.Minute), f.priv), wire.StatusExpired, 0, "validity window"},
		{"denied table", f.query("q6", 0, "select * from carves where carve = 1", now, now.Add(time.Minute), f.priv), wire.StatusDenied, 0, "denied table carves"},
		{"query error", f.query("q7", 0, "select * from fail", now, now.Add(time.Minute), f.priv), wire.StatusError, 0, "no such table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.send(c.msg)
			rows, final := p.answer()
			if final.Status != c.wantStatus || len(rows) != c.wantRows || !strings.Contains(final.Error, c.wantErr) {
				t.Errorf("got %s %q with %d rows, want %s %q with %d", final.Status, final.Error, len(rows), c.wantStatus, c.wantErr, c.wantRows)
			}
			if final.QueryID != c.msg.Query.ID || final.Stats == nil || final.Stats.Rows != len(rows) {
				t.Errorf("got final chunk %+v, want it to name %s and count its rows", final, c.msg.Query.ID)
			}
			p.send(&wire.Message{Type: wire.TypeAck, Ack: &wire.Ack{QueryID: final.QueryID, Attempt: final.Attempt}})
		})
	}
	if got := rec.count(); got != 2 {
		t.Errorf("runner ran %d queries %v, want 2 (the good one and the failing one)", got, rec.ran)
	}
}

func TestAgentHoldsUndeliveredAnswers(t *testing.T) {
	f := newFakeSweeper(t)
	release, started := make(chan struct{}), make(chan struct{})
	run := func(ctx context.Context, sql string) ([]map[string]string, error) {
		close(started)
		<-release
		return []map[string]string{{"a": "1"}}, nil
	}
	a, _ := startAgent(t, f, Config{StateDir: t.TempDir()}, run)
	p := <-f.conns
	f.welcome(p)
	now := time.Now()
	p.send(f.query("q1", 0, "select 1", now, now.Add(time.Minute), f.priv))
	// The sweeper goes away while the query runs.
	<-started
	p.ws.Close()
	p2 := <-f.conns
	if len(p2.hello.Held) != 1 || p2.hello.Held[0] != (wire.QueryRef{ID: "q1"}) {
		t.Fatalf("got held %v, want q1 (running)", p2.hello.Held)
	}
	if p2.hello.NodeKey != "node-key-1" || p2.hello.EnrollSecret != "" {
		t.Errorf("reconnect hello %+v, want the node key and no secret", p2.hello)
	}
	// Answer completes while disconnected, then it is sent on the next connection.
	p2.ws.Close()
	close(release)
	for a.Held() == 0 {
		time.Sleep(time.Millisecond)
	}
	p3 := <-f.conns
	if len(p3.hello.Held) != 1 {
		t.Fatalf("got held %v, want the finished answer to q1", p3.hello.Held)
	}
	f.welcome(p3)
	rows, final := p3.answer()
	if len(rows) != 1 || final.Status != wire.StatusOK {
		t.Fatalf("got %d rows %s, want the held answer", len(rows), final.Status)
	}
	p3.send(&wire.Message{Type: wire.TypeAck, Ack: &wire.Ack{QueryID: "q1"}})
	for a.Held() != 0 {
		time.Sleep(time.Millisecond)
	}
	if a.Delivered() != 1 {
		t.Errorf("got %d delivered, want 1", a.Delivered())
	}
}

func TestAgentRefusesAnotherQueryKey(t *testing.T) {
	f := newFakeSweeper(t)
	pinned, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg := Config{QueryKey: pinned, URL: f.url(), CAPEM: f.caPEM, EnrollSecret: "secret-secret-secret", HostID: "h",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	errc := make(chan error, 1)
	go func() { errc <- Run(context.Background(), cfg, (&recorder{}).run) }()
	p := <-f.conns
	f.welcome(p)
	if err := <-errc; !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "query key") {
		t.Errorf("got %v, want a refusal naming the query key", err)
	}
}

func TestAgentRefusesUnpinnedServer(t *testing.T) {
	f := newFakeSweeper(t)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCA(t)})
	a, err := New(Config{URL: f.url(), CAPEM: caPEM, EnrollSecret: "s", HostID: "h", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, (&recorder{}).run)
	if err != nil {
		t.Fatal(err)
	}
	err = a.session(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("got %v, want a certificate error", err)
	}
	select {
	case <-f.conns:
		t.Errorf("the agent said hello to a server its CA does not vouch for")
	default:
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFakeSweeper(t)
	cases := []struct {
		name string
		cfg  Config
	}{
		{"plain ws url", Config{URL: "ws://127.0.0.1:1/", CAPEM: f.caPEM, HostID: "h"}},
		{"no CA", Config{URL: f.url(), HostID: "h"}},
		{"short query key", Config{URL: f.url(), CAPEM: f.caPEM, HostID: "h", QueryKey: []byte{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg, (&recorder{}).run); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	a := &Agent{cfg: Config{MinBackoff: time.Second, MaxBackoff: time.Minute}}
	for n := 1; n < 40; n++ {
		for i := 0; i < 50; i++ {
			d := a.backoff(n)
			ceil := min(time.Second<<min(n, 20), time.Minute)
			if d < time.Second || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [1s, %v]", n, d, ceil)
			}
		}
	}
}

func TestNormalizeID(t *testing.T) {
	cases := []struct{ in, want string }{
		{"0123456789ABCDEF0123456789abcdef\n", "01234567-89ab-cdef-0123-456789abcdef"},
		{"4C4C4544-0042-3610-8048-B4C04F4E3232", "4c4c4544-0042-3610-8048-b4c04f4e3232"},
		{"00000000-0000-0000-0000-000000000000", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := normalizeID(c.in); got != c.want {
			t.Errorf("normalizeID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
