package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/wire"
)

// Statuses a HostResult can have beyond those an agent reports.
const (
	// StatusOffline: the host was not connected at any time before the
	// deadline, so the query never reached it.
	StatusOffline wire.Status = "offline"
	// StatusCanceled: the push was canceled or the sweeper is stopping.
	StatusCanceled wire.Status = "canceled"
	// StatusNoAnswer: the query reached the host but no complete answer
	// came back before the deadline.
	StatusNoAnswer wire.Status = "no_answer"
)

// MaxQueryLifetime is the longest deadline a push accepts; agents refuse
// longer-lived queries (see wire.Verifier.MaxLifetime).
const MaxQueryLifetime = time.Hour

// HostResult is one host's complete answer to a push, or why there is none.
// Every targeted host yields exactly one.
type HostResult struct {
	HostID   string
	Status   wire.Status
	Error    string
	Rows     []map[string]string
	Stats    wire.Stats
	Attempts int // deliveries of the query to the host
	Received time.Time
}

// Push is one query pushed to a set of hosts.
type Push struct {
	ID       string
	SQL      string
	Deadline time.Time
	// Results yields one HostResult per targeted host, then closes. It is
	// buffered for every host, so a slow reader never stalls a session.
	Results <-chan HostResult

	hub    *Hub
	out    chan HostResult
	issued int64

	mu        sync.Mutex
	targets   map[string]*target
	remaining int
	done      bool
	timer     *time.Timer
	signed    map[int]*websocket.PreparedMessage
	doneCh    chan struct{}
}

type target struct {
	attempt   int // last attempt sent, -1 before the first
	sentTo    *session
	bufFor    int // attempt the buffered chunks belong to
	nextSeq   int
	rows      []map[string]string
	truncated int
	finished  bool
}

// Push signs sql and sends it to hosts (every enrolled host when hosts is
// nil). Connected hosts get it now, others when they connect before the
// deadline, and a host that disconnects mid-answer gets it again when it
// returns. Canceling ctx ends the push early.
func (h *Hub) Push(ctx context.Context, hosts []string, sql string, deadline time.Time) (*Push, error) {
	now := time.Now()
	if sql == "" || len(sql) > wire.MaxSQLBytes {
		return nil, fmt.Errorf("hub: push: sql of %d bytes, want 1..%d", len(sql), wire.MaxSQLBytes)
	}
	if !deadline.After(now) || deadline.Sub(now) > MaxQueryLifetime {
		return nil, fmt.Errorf("hub: push: deadline %s must be within %s from now", deadline.Format(time.RFC3339), MaxQueryLifetime)
	}
	if hosts == nil {
		all, err := h.cfg.Store.Hosts(ctx)
		if err != nil {
			return nil, fmt.Errorf("hub: push: %w", err)
		}
		for _, x := range all {
			hosts = append(hosts, x.ID)
		}
	}
	p := &Push{
		ID: newID(), SQL: sql, Deadline: deadline, hub: h, issued: now.UnixMilli(),
		targets: make(map[string]*target, len(hosts)), signed: map[int]*websocket.PreparedMessage{},
		doneCh: make(chan struct{}),
	}
	for _, id := range hosts {
		if _, dup := p.targets[id]; !dup {
			p.targets[id] = &target{attempt: -1}
		}
	}
	p.remaining = len(p.targets)
	p.out = make(chan HostResult, len(p.targets))
	p.Results = p.out

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("hub: push: hub closed")
	}
	h.pushes[p.ID] = p
	sessions := make([]*session, 0, len(p.targets))
	for id := range p.targets {
		if s := h.sessions[id]; s != nil {
			sessions = append(sessions, s)
		}
	}
	h.mu.Unlock()

	if p.remaining == 0 {
		p.finish(StatusOffline, "")
		return p, nil
	}
	p.mu.Lock()
	p.timer = time.AfterFunc(time.Until(deadline)+h.cfg.Grace, func() {
		p.finish(StatusNoAnswer, "no complete answer before the deadline")
	})
	p.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			p.finish(StatusCanceled, ctx.Err().Error())
		case <-p.doneCh:
		}
	}()
	for _, s := range sessions {
		p.hostConnected(s, false)
	}
	return p, nil
}

// prepared returns the signed query of an attempt, encoded once.
func (p *Push) prepared(attempt int) (*websocket.PreparedMessage, error) {
	if pm := p.signed[attempt]; pm != nil {
		return pm, nil
	}
	q := &wire.Query{ID: p.ID, Attempt: attempt, SQL: p.SQL, Issued: p.issued, Expires: p.Deadline.UnixMilli()}
	wire.Sign(p.hub.cfg.SigningKey, q)
	b, err := wire.Encode(&wire.Message{Type: wire.TypeQuery, Query: q})
	if err != nil {
		return nil, err
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return nil, err
	}
	p.signed[attempt] = pm
	return pm, nil
}

// hostConnected sends the query to a target host that has no answer yet,
// unless the host says it holds one and will re-send it.
func (p *Push) hostConnected(s *session, holdsResult bool) {
	p.mu.Lock()
	t := p.targets[s.hostID]
	if p.done || t == nil || t.finished {
		p.mu.Unlock()
		return
	}
	t.sentTo = s
	if holdsResult && t.attempt >= 0 {
		p.mu.Unlock()
		return
	}
	t.attempt++
	t.rows, t.nextSeq, t.truncated = nil, 0, 0
	pm, err := p.prepared(t.attempt)
	p.mu.Unlock()
	if err != nil {
		p.hub.log.Error("query not prepared", "query", p.ID, "err", err)
		return
	}
	p.hub.async(func() {
		if err := s.sendPrepared(pm); err != nil {
			p.hub.log.Warn("query not delivered", "host", s.hostID, "query", p.ID, "err", err)
		}
	})
}

// hostDisconnected drops a partial answer: the host re-sends it whole.
func (p *Push) hostDisconnected(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.targets[s.hostID]; t != nil && t.sentTo == s && !t.finished {
		t.rows, t.nextSeq, t.truncated = nil, 0, 0
	}
}

// result routes a chunk to its push; a chunk for a finished or unknown push
// is acked so the agent stops holding it.
func (h *Hub) result(s *session, r *wire.Result) {
	h.mu.Lock()
	p := h.pushes[r.QueryID]
	h.mu.Unlock()
	if p == nil {
		if r.Final {
			s.send(&wire.Message{Type: wire.TypeAck, Ack: &wire.Ack{QueryID: r.QueryID, Attempt: r.Attempt}})
		}
		return
	}
	if p.chunk(s, r) {
		s.send(&wire.Message{Type: wire.TypeAck, Ack: &wire.Ack{QueryID: r.QueryID, Attempt: r.Attempt}})
	}
}

// chunk adds a chunk to the host's answer; it reports whether to ack.
func (p *Push) chunk(s *session, r *wire.Result) (ack bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.targets[s.hostID]
	if t == nil {
		p.hub.log.Warn("result from a host the query was not sent to", "host", s.hostID, "query", p.ID)
		return r.Final
	}
	if t.finished || p.done {
		return r.Final
	}
	if r.Seq == 0 {
		t.rows, t.nextSeq, t.truncated, t.bufFor = nil, 0, 0, r.Attempt
	}
	if r.Attempt != t.bufFor || r.Seq != t.nextSeq {
		p.hub.log.Warn("result chunk out of order: dropped until the host re-sends", "host", s.hostID, "query", p.ID,
			"attempt", r.Attempt, "seq", r.Seq, "want_seq", t.nextSeq)
		t.rows, t.nextSeq = nil, -1
		return false
	}
	t.nextSeq++
	room := p.hub.cfg.MaxResultRows - len(t.rows)
	if len(r.Rows) > room {
		t.truncated += len(r.Rows) - room
		t.rows = append(t.rows, r.Rows[:room]...)
	} else {
		t.rows = append(t.rows, r.Rows...)
	}
	if !r.Final {
		return false
	}
	res := HostResult{HostID: s.hostID, Status: r.Status, Error: r.Error, Rows: t.rows, Attempts: t.attempt + 1, Received: time.Now()}
	if r.Stats != nil {
		res.Stats = *r.Stats
	}
	if t.truncated > 0 {
		res.Stats.Dropped += t.truncated
		if res.Error == "" {
			res.Error = fmt.Sprintf("%d rows beyond the sweeper's limit of %d were dropped", t.truncated, p.hub.cfg.MaxResultRows)
		}
	}
	if res.Attempts < 1 {
		res.Attempts = 1
	}
	t.rows = nil
	p.resolve(t, res)
	return true
}

// resolve emits a host's result; the last one ends the push. p.mu is held.
func (p *Push) resolve(t *target, res HostResult) {
	t.finished = true
	p.remaining--
	p.out <- res
	if p.remaining == 0 {
		p.end()
	}
}

// end closes the push. p.mu is held.
func (p *Push) end() {
	p.done = true
	if p.timer != nil {
		p.timer.Stop()
	}
	close(p.out)
	close(p.doneCh)
	p.hub.mu.Lock()
	delete(p.hub.pushes, p.ID)
	p.hub.mu.Unlock()
}

// finish resolves every host still waiting: StatusOffline for those the
// query never reached, status (with msg) for the others.
func (p *Push) finish(status wire.Status, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	now := time.Now()
	for id, t := range p.targets {
		if t.finished {
			continue
		}
		res := HostResult{HostID: id, Status: status, Error: msg, Attempts: t.attempt + 1, Received: now}
		if t.attempt < 0 && status != StatusCanceled {
			res.Status, res.Error = StatusOffline, "host not connected before the deadline"
		}
		t.finished = true
		p.remaining--
		p.out <- res
	}
	p.end()
}

// Wait collects every host's result.
func (p *Push) Wait() []HostResult {
	var out []HostResult
	for r := range p.Results {
		out = append(out, r)
	}
	return out
}
