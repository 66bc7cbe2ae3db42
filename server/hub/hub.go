// Package hub is the sweeper's websocket endpoint: it enrolls hosts, keeps
// one session per connected host, pushes signed queries to them and collects
// their results.
//
// Each session costs one goroutine (its reader) and no write goroutine:
// writes happen under the session's lock with a write deadline from the
// goroutine that has something to send, and a push fans out through short
// goroutines bounded by a semaphore, so a slow or silent host holds up at
// most one of them for one write deadline and never the others. One hub
// goroutine pings every session; a session that stops answering is closed
// when its read deadline passes.
package hub

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/store"
	"scsweep/server/wire"
)

// Config configures a Hub. EnrollSecret, SigningKey and Store are required.
type Config struct {
	EnrollSecret string
	SigningKey   ed25519.PrivateKey
	Store        *store.Store
	Logger       *slog.Logger

	// Chunk bounds announced to agents (defaults wire.DefaultChunk*).
	ChunkRows, ChunkBytes int
	// WriteTimeout bounds every write to a host (default 10 s).
	WriteTimeout time.Duration
	// HelloTimeout bounds the wait for a new connection's hello (10 s).
	HelloTimeout time.Duration
	// PingInterval is how often sessions are pinged (30 s); a session that
	// sends nothing, pongs included, for 2×PingInterval is closed.
	PingInterval time.Duration
	// Grace is how long after a push's deadline results are still awaited:
	// time for an answer sent just before expiry to arrive (2 s).
	Grace time.Duration
	// MaxResultRows bounds the rows kept for one host's answer (1e6).
	MaxResultRows int
	// SendConcurrency bounds the writes in flight during a fan-out (256).
	SendConcurrency int
}

// Hub is the websocket endpoint. Mount it with http.Handle; serve it over TLS.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	sendSem  chan struct{}
	presence chan store.HostUpdate

	mu       sync.Mutex
	sessions map[string]*session
	pushes   map[string]*Push
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns a running hub: its pinger and presence writer start now.
func New(cfg Config) (*Hub, error) {
	if cfg.EnrollSecret == "" || len(cfg.SigningKey) != ed25519.PrivateKeySize || cfg.Store == nil {
		return nil, errors.New("hub: config needs an enroll secret, an ed25519 signing key and a store")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.WriteTimeout, 10*time.Second)
	def(&cfg.HelloTimeout, 10*time.Second)
	def(&cfg.PingInterval, 30*time.Second)
	def(&cfg.Grace, 2*time.Second)
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = wire.DefaultChunkRows
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = wire.DefaultChunkBytes
	}
	if cfg.MaxResultRows <= 0 {
		cfg.MaxResultRows = 1_000_000
	}
	if cfg.SendConcurrency <= 0 {
		cfg.SendConcurrency = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Hub{
		cfg: cfg,
		log: cfg.Logger,
		upgrader: websocket.Upgrader{
			// Small per-connection read buffer; write buffers are pooled and
			// held only while a message is being written.
			ReadBufferSize:  512,
			WriteBufferSize: 16 << 10,
			WriteBufferPool: &sync.Pool{},
			// Agents are not browsers: a request with an Origin header is a
			// browser being abused, and is refused.
			CheckOrigin:      func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
			HandshakeTimeout: cfg.HelloTimeout,
		},
		sendSem:  make(chan struct{}, cfg.SendConcurrency),
		presence: make(chan store.HostUpdate, 4096),
		sessions: map[string]*session{},
		pushes:   map[string]*Push{},
		stop:     make(chan struct{}),
	}
	h.wg.Add(2)
	go h.pinger()
	go h.presenceWriter()
	return h, nil
}

// Close disconnects every host, fails pending pushes and stops the hub.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	pushes := make([]*Push, 0, len(h.pushes))
	for _, p := range h.pushes {
		pushes = append(pushes, p)
	}
	h.mu.Unlock()
	for _, s := range sessions {
		s.conn.Close()
	}
	for _, p := range pushes {
		p.finish(StatusCanceled, "sweeper shutting down")
	}
	close(h.stop)
	h.wg.Wait()
}

// Connected returns how many hosts hold a session.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Online returns the ids of the connected hosts.
func (h *Hub) Online() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.sessions))
	for id := range h.sessions {
		ids = append(ids, id)
	}
	return ids
}

// HashNodeKey is how node keys are stored: a node key is 256 random bits, so
// a plain SHA-256 is as good as a slow hash and cheap at reconnect storms.
func HashNodeKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newNodeKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ServeHTTP upgrades the request to a websocket, authenticates the hello
// and runs the session. The handler returns once the session is set up; the
// session's reader runs on in its own goroutine, so nothing of the HTTP
// request stays alive.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.log.Warn("websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
		return
	}
	s, hello, err := h.authenticate(r.Context(), conn, r.RemoteAddr)
	if err != nil {
		conn.Close()
		return
	}
	go h.run(s, hello)
}

// authenticate reads the hello and checks the secret or node key. A refused
// host gets an error message, is logged, and nothing it sent is stored.
func (h *Hub) authenticate(ctx context.Context, conn *websocket.Conn, remote string) (*session, *wire.Hello, error) {
	conn.SetReadLimit(64 << 10)
	conn.SetReadDeadline(time.Now().Add(h.cfg.HelloTimeout))
	_, data, err := conn.ReadMessage()
	if err != nil {
		h.log.Warn("no hello", "remote", remote, "err", err)
		return nil, nil, err
	}
	s := &session{hub: h, conn: conn, remote: remote}
	m, err := wire.Decode(data)
	if err != nil || m.Type != wire.TypeHello {
		if err == nil {
			err = fmt.Errorf("hub: first message is %s, want hello", m.Type)
		}
		h.log.Warn("refused connection: bad hello", "remote", remote, "err", err)
		s.refuse(wire.CodeBadRequest, err.Error())
		return nil, nil, err
	}
	hello := m.Hello
	now := time.Now()
	up := store.HostUpdate{ID: hello.HostID, Hostname: hello.Hostname, OS: hello.OS, AgentVersion: hello.AgentVersion, OsqueryVersion: hello.OsqueryVersion, RemoteAddr: remote, Seen: now, Online: true}
	var nodeKey string
	if hello.EnrollSecret != "" {
		if subtle.ConstantTimeCompare([]byte(hello.EnrollSecret), []byte(h.cfg.EnrollSecret)) != 1 {
			h.log.Warn("refused enrollment: wrong enroll secret", "host", hello.HostID, "remote", remote)
			s.refuse(wire.CodeUnauthorized, "wrong enroll secret")
			return nil, nil, errors.New("hub: wrong enroll secret")
		}
		nodeKey = newNodeKey()
		err := h.cfg.Store.EnrollHost(ctx, store.Host{ID: hello.HostID, NodeKeyHash: HashNodeKey(nodeKey), Hostname: hello.Hostname, OS: hello.OS,
			AgentVersion: hello.AgentVersion, OsqueryVersion: hello.OsqueryVersion, RemoteAddr: remote, FirstSeen: now, LastSeen: now, Online: true})
		if err != nil {
			h.log.Error("enrollment not stored", "host", hello.HostID, "err", err)
			s.refuse(wire.CodeBadRequest, "enrollment failed on the sweeper")
			return nil, nil, err
		}
		h.log.Info("host enrolled", "host", hello.HostID, "remote", remote)
	} else {
		want, err := h.cfg.Store.NodeKeyHash(ctx, hello.HostID)
		got := HashNodeKey(hello.NodeKey)
		if err != nil || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			reason := "wrong node key"
			if errors.Is(err, store.ErrNotFound) {
				reason = "unknown host"
			} else if err != nil {
				reason = "node key lookup failed"
				h.log.Error("node key lookup", "host", hello.HostID, "err", err)
			}
			h.log.Warn("refused connection: "+reason, "host", hello.HostID, "remote", remote)
			s.refuse(wire.CodeUnauthorized, reason+": enroll again with the enroll secret")
			return nil, nil, errors.New("hub: " + reason)
		}
		h.updatePresence(up)
	}
	s.hostID = hello.HostID
	if err := s.send(&wire.Message{Type: wire.TypeWelcome, Welcome: &wire.Welcome{HostID: hello.HostID, NodeKey: nodeKey,
		ChunkRows: h.cfg.ChunkRows, ChunkBytes: h.cfg.ChunkBytes, ServerTime: now.UnixMilli(),
		QueryKey: h.cfg.SigningKey.Public().(ed25519.PublicKey)}}); err != nil {
		h.log.Warn("welcome not delivered", "host", hello.HostID, "err", err)
		return nil, nil, err
	}
	return s, hello, nil
}

// run registers the session, re-sends what the host still owes, and reads
// until the connection ends.
func (h *Hub) run(s *session, hello *wire.Hello) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		s.conn.Close()
		return
	}
	old := h.sessions[s.hostID]
	h.sessions[s.hostID] = s
	pushes := make([]*Push, 0, len(h.pushes))
	for _, p := range h.pushes {
		pushes = append(pushes, p)
	}
	h.mu.Unlock()
	if old != nil {
		// The host reconnected before its old connection timed out.
		old.conn.Close()
	}
	held := map[string]bool{}
	for _, r := range hello.Held {
		held[r.ID] = true
	}
	for _, p := range pushes {
		p.hostConnected(s, held[p.ID])
	}

	s.conn.SetReadLimit(wire.MaxMessageBytes)
	s.conn.SetPongHandler(func(string) error { return s.extendRead() })
	err := s.readLoop()

	h.mu.Lock()
	current := h.sessions[s.hostID] == s
	if current {
		delete(h.sessions, s.hostID)
	}
	pushes = pushes[:0]
	for _, p := range h.pushes {
		pushes = append(pushes, p)
	}
	h.mu.Unlock()
	s.conn.Close()
	for _, p := range pushes {
		p.hostDisconnected(s)
	}
	if current {
		h.updatePresence(store.HostUpdate{ID: s.hostID, Seen: time.Now(), Online: false})
	}
	h.log.Debug("session ended", "host", s.hostID, "err", err)
}

func (h *Hub) updatePresence(u store.HostUpdate) {
	select {
	case h.presence <- u:
	case <-h.stop:
	}
}

// presenceWriter batches online/offline changes into few transactions, so a
// reconnect storm costs tens of commits, not one per host.
func (h *Hub) presenceWriter() {
	defer h.wg.Done()
	batch := make([]store.HostUpdate, 0, 1024)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := h.cfg.Store.UpdateHosts(context.Background(), batch); err != nil {
			h.log.Error("host presence not stored", "hosts", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case u := <-h.presence:
			batch = append(batch, u)
			if len(batch) == cap(batch) {
				flush()
			}
		case <-tick.C:
			flush()
		case <-h.stop:
			for {
				select {
				case u := <-h.presence:
					batch = append(batch, u)
				default:
					flush()
					return
				}
			}
		}
	}
}

// pinger sends a websocket ping to every session each interval.
func (h *Hub) pinger() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		h.mu.Lock()
		sessions := make([]*session, 0, len(h.sessions))
		for _, s := range h.sessions {
			sessions = append(sessions, s)
		}
		h.mu.Unlock()
		for _, s := range sessions {
			h.async(func() {
				if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteTimeout)); err != nil {
					s.conn.Close()
				}
			})
		}
	}
}

// async runs fn in a goroutine once a send slot is free.
func (h *Hub) async(fn func()) {
	h.sendSem <- struct{}{}
	go func() {
		defer func() { <-h.sendSem }()
		fn()
	}()
}
