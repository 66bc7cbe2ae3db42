package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/wire"
)

// session is one connection: hello, welcome, then queries until it breaks.
func (a *Agent) session(ctx context.Context) error {
	ws, _, err := a.dialer.DialContext(ctx, a.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("agent: dial %s: %w", a.cfg.URL, err)
	}
	c := &conn{ws: ws}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	defer ws.Close()
	ws.SetReadLimit(wire.MaxMessageBytes)

	a.mu.Lock()
	hello := &wire.Hello{HostID: a.cfg.HostID, Hostname: a.cfg.Hostname, AgentVersion: a.cfg.AgentVersion, OsqueryVersion: a.cfg.OsqueryVersion, OS: goos}
	enrolling := a.nodeKey == ""
	if enrolling {
		hello.EnrollSecret = a.cfg.EnrollSecret
	} else {
		hello.NodeKey = a.nodeKey
	}
	hello.Held = append(hello.Held, a.order...)
	for r := range a.running {
		hello.Held = append(hello.Held, r)
	}
	if len(hello.Held) > wire.MaxHeld {
		hello.Held = hello.Held[:wire.MaxHeld]
	}
	a.mu.Unlock()
	if enrolling && hello.EnrollSecret == "" {
		return fmt.Errorf("%w: no node key and no enroll secret", ErrRefused)
	}
	b, err := wire.Encode(&wire.Message{Type: wire.TypeHello, Hello: hello})
	if err != nil {
		return err
	}
	if err := c.write(b, 15*time.Second); err != nil {
		return fmt.Errorf("agent: hello: %w", err)
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	m, err := readMessage(ws)
	if err != nil {
		return fmt.Errorf("agent: waiting for welcome: %w", err)
	}
	if m.Type == wire.TypeError {
		if m.Error.Code == wire.CodeUnauthorized {
			if enrolling {
				a.log.Error("sweeper refused the enroll secret", "reason", m.Error.Message)
				return fmt.Errorf("%w: %s", ErrRefused, m.Error.Message)
			}
			// The sweeper no longer knows our node key: enroll again.
			a.log.Warn("sweeper refused the node key; enrolling again", "reason", m.Error.Message)
			a.mu.Lock()
			a.nodeKey = ""
			a.mu.Unlock()
			return fmt.Errorf("agent: node key refused: %s", m.Error.Message)
		}
		return fmt.Errorf("agent: sweeper error %s: %s", m.Error.Code, m.Error.Message)
	}
	if m.Type != wire.TypeWelcome {
		return fmt.Errorf("agent: got %s, want welcome", m.Type)
	}
	w := m.Welcome
	if err := a.acceptQueryKey(w.QueryKey); err != nil {
		return err
	}
	if enrolling {
		if w.NodeKey == "" {
			return errors.New("agent: enrollment welcomed without a node key")
		}
		a.saveState("node_key", w.NodeKey)
	}
	a.mu.Lock()
	if enrolling {
		a.nodeKey = w.NodeKey
	}
	a.welcome = *w
	a.conn = c
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if a.conn == c {
			a.conn = nil
		}
		a.mu.Unlock()
	}()
	a.log.Debug("connected to sweeper", "enrolled", enrolling)
	a.flushHeld(c)

	extend := func() { ws.SetReadDeadline(time.Now().Add(a.cfg.ReadTimeout)) }
	ws.SetPingHandler(func(data string) error {
		extend()
		// WriteControl may run beside a data write: no lock, so a pong is
		// never stuck behind a large answer.
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		extend()
		m, err := readMessage(ws)
		if err != nil {
			return err
		}
		switch m.Type {
		case wire.TypeQuery:
			a.accept(ctx, m.Query)
		case wire.TypeAck:
			a.acked(wire.QueryRef{ID: m.Ack.QueryID, Attempt: m.Ack.Attempt})
		case wire.TypePing:
			if b, err := wire.Encode(&wire.Message{Type: wire.TypePong, Pong: m.Ping}); err == nil {
				c.write(b, 10*time.Second)
			}
		case wire.TypePong:
		case wire.TypeError:
			return fmt.Errorf("agent: sweeper error %s: %s", m.Error.Code, m.Error.Message)
		default:
			a.log.Warn("unexpected message from sweeper", "type", m.Type)
		}
	}
}

func readMessage(ws *websocket.Conn) (*wire.Message, error) {
	_, data, err := ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return wire.Decode(data)
}

// acceptQueryKey pins the sweeper's query key, or checks it against the pin.
func (a *Agent) acceptQueryKey(k []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		if !bytes.Equal(a.cfg.QueryKey, k) {
			return fmt.Errorf("%w: the sweeper announced a query key other than the pinned one", ErrRefused)
		}
		return nil
	}
	a.cfg.QueryKey = ed25519.PublicKey(bytes.Clone(k))
	a.verifier = wire.NewVerifier(a.cfg.QueryKey)
	a.saveState("query_key", hex.EncodeToString(k))
	return nil
}

// accept checks a query and runs it in its own goroutine; a refused query
// is answered at once with the reason.
func (a *Agent) accept(ctx context.Context, q *wire.Query) {
	ref := q.Ref()
	a.mu.Lock()
	v := a.verifier
	_, isHeld := a.held[ref]
	busy := a.running[ref] || isHeld
	a.mu.Unlock()
	if busy {
		// The sweeper lost track of an answer we already have or are making.
		a.log.Debug("query already held or running", "query", q.ID, "attempt", q.Attempt)
		return
	}
	err := v.Check(q)
	if err == nil {
		err = wire.CheckDenied(q.SQL, a.denied)
	}
	if err != nil {
		a.log.Warn("query refused", "query", q.ID, "attempt", q.Attempt, "err", err)
		a.deliver(ref, nil, &wire.Stats{}, wire.StatusFor(err), err.Error())
		return
	}
	a.mu.Lock()
	a.running[ref] = true
	a.mu.Unlock()
	go func() {
		qctx, cancel := context.WithDeadline(ctx, time.UnixMilli(q.Expires))
		defer cancel()
		start := time.Now()
		rows, err := a.runner(qctx, q.SQL)
		stats := &wire.Stats{WallMS: time.Since(start).Milliseconds()}
		status, msg := wire.StatusOK, ""
		switch {
		case ctx.Err() != nil:
			// The agent is stopping: nothing to deliver; the sweeper re-sends.
			a.mu.Lock()
			delete(a.running, ref)
			a.mu.Unlock()
			return
		case errors.Is(err, context.DeadlineExceeded) || qctx.Err() != nil:
			status, msg, rows = wire.StatusTimeout, fmt.Sprintf("query did not finish before its expiry: %v", err), nil
		case err != nil:
			status, msg, rows = wire.StatusError, err.Error(), nil
		}
		a.deliver(ref, rows, stats, status, msg)
	}()
}

// deliver chunks an answer, holds it, and sends it if connected.
func (a *Agent) deliver(ref wire.QueryRef, rows []map[string]string, stats *wire.Stats, status wire.Status, msg string) {
	a.mu.Lock()
	maxRows, maxBytes := a.welcome.ChunkRows, a.welcome.ChunkBytes
	a.mu.Unlock()
	chunks, dropped := wire.Chunk(rows, maxRows, maxBytes)
	if len(chunks) == 0 {
		chunks = [][]map[string]string{nil}
	}
	stats.Dropped = dropped
	stats.Chunks = len(chunks)
	for _, ch := range chunks {
		stats.Rows += len(ch)
		for _, r := range ch {
			stats.Bytes += wire.RowBytes(r)
		}
	}
	h := &heldResult{}
	for i, ch := range chunks {
		r := &wire.Result{QueryID: ref.ID, Attempt: ref.Attempt, Seq: i, Rows: ch}
		if i == len(chunks)-1 {
			r.Final, r.Status, r.Error, r.Stats = true, status, msg, stats
		}
		b, err := wire.Encode(&wire.Message{Type: wire.TypeResult, Result: r})
		if err != nil {
			// Cannot happen for chunks within bounds; say so rather than hang.
			a.log.Error("result not encodable", "query", ref.ID, "err", err)
			b, _ = wire.Encode(&wire.Message{Type: wire.TypeResult, Result: &wire.Result{QueryID: ref.ID, Attempt: ref.Attempt, Seq: 0, Final: true, Status: wire.StatusError, Error: err.Error(), Stats: &wire.Stats{}}})
			h.msgs, h.bytes = [][]byte{b}, len(b)
			break
		}
		h.msgs = append(h.msgs, b)
		h.bytes += len(b)
	}
	a.mu.Lock()
	delete(a.running, ref)
	a.held[ref] = h
	a.order = append(a.order, ref)
	a.heldB += h.bytes
	for a.heldB > a.cfg.MaxHeldBytes && len(a.order) > 1 {
		old := a.order[0]
		a.order = a.order[1:]
		if o := a.held[old]; o != nil {
			a.heldB -= o.bytes
			delete(a.held, old)
			a.log.Error("undelivered answer dropped: held answers exceed the limit", "query", old.ID, "limit", a.cfg.MaxHeldBytes)
		}
	}
	c := a.conn
	a.mu.Unlock()
	if c != nil {
		a.send(c, ref, h)
	}
}

// send writes all chunks of a held answer on c, once per connection.
func (a *Agent) send(c *conn, ref wire.QueryRef, h *heldResult) {
	c.wmu.Lock()
	a.mu.Lock()
	if h.sentOn == c || a.held[ref] != h {
		a.mu.Unlock()
		c.wmu.Unlock()
		return
	}
	h.sentOn = c
	a.mu.Unlock()
	defer c.wmu.Unlock()
	for _, b := range h.msgs {
		c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			a.log.Warn("answer not delivered; held for the next connection", "query", ref.ID, "err", err)
			c.ws.Close()
			return
		}
	}
}

func (a *Agent) flushHeld(c *conn) {
	a.mu.Lock()
	refs := append([]wire.QueryRef(nil), a.order...)
	a.mu.Unlock()
	for _, ref := range refs {
		a.mu.Lock()
		h := a.held[ref]
		a.mu.Unlock()
		if h != nil {
			a.send(c, ref, h)
		}
	}
}

func (a *Agent) acked(ref wire.QueryRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.held[ref]
	if h == nil {
		return
	}
	delete(a.held, ref)
	a.heldB -= h.bytes
	for i, r := range a.order {
		if r == ref {
			a.order = append(a.order[:i], a.order[i+1:]...)
			break
		}
	}
	a.delivered++
}
