// Package agent is the host side of the sweeper's protocol (server/wire): it
// keeps one TLS websocket to the sweeper, runs the queries the sweeper
// pushes through a Runner, and streams the rows back in bounded chunks.
//
// Before running anything it checks the query's signature against the
// sweeper's key, its freshness, that it was not run before, and that it names
// no denied table; a refused query is answered with a result that says why.
// Answers the agent could not deliver are held and re-sent when the
// connection returns; the hello tells the sweeper which ones, so the sweeper
// does not run them again. Reconnects back off exponentially with full
// jitter, so a restarted sweeper is not hit by the whole fleet at once.
package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"scsweep/server/wire"
)

// Runner runs one SQL query and returns its rows, every value a string as
// osquery returns them. It must honour ctx's deadline.
type Runner func(ctx context.Context, sql string) ([]map[string]string, error)

// Config is what `--sweeper wss://HOST:PORT --enroll-secret-file F --ca-file F`
// and friends become.
type Config struct {
	// URL of the sweeper's websocket endpoint, wss://HOST:PORT/path.
	URL string
	// EnrollSecret enrolls the host the first time (and again if the
	// sweeper forgot its node key).
	EnrollSecret string
	// CAPEM is the sweeper's CA certificate: the only root trusted.
	CAPEM []byte
	// HostID identifies the host; empty means MachineID().
	HostID         string
	Hostname       string
	AgentVersion   string
	OsqueryVersion string
	// QueryKey pins the sweeper's query signing key. Empty: the key the
	// sweeper announces over the CA-pinned connection is pinned on first
	// contact (and kept in StateDir when set).
	QueryKey ed25519.PublicKey
	// DeniedTables are refused in any query; nil means
	// wire.DefaultDeniedTables, an empty non-nil slice allows every table.
	DeniedTables []string
	// StateDir keeps the node key (and the pinned query key) across
	// restarts; empty keeps them in memory only.
	StateDir string
	// MinBackoff and MaxBackoff bound the reconnect delay (1 s, 1 min).
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout closes a connection silent for that long (90 s); the
	// sweeper pings well within it.
	ReadTimeout time.Duration
	// MaxHeldBytes bounds undelivered answers kept (64 MiB); the oldest go
	// first, and the loss is logged.
	MaxHeldBytes int
	Logger       *slog.Logger
	// Dialer overrides the websocket dialer (its TLS config is replaced).
	Dialer *websocket.Dialer
}

// writeBuffers is shared by every agent in the process (the host simulator
// runs thousands).
var writeBuffers = &sync.Pool{}

// Agent is a running client. Create it with New, drive it with Run.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	runner   Runner
	verifier *wire.Verifier
	dialer   *websocket.Dialer
	denied   []string

	mu      sync.Mutex
	nodeKey string
	conn    *conn
	held    map[wire.QueryRef]*heldResult
	order   []wire.QueryRef // held, oldest first
	heldB   int
	running map[wire.QueryRef]bool
	welcome wire.Welcome

	// Delivered counts results the sweeper acknowledged (for tests and the
	// simulator).
	delivered int
}

type heldResult struct {
	msgs   [][]byte
	bytes  int
	sentOn *conn
}

type conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

func (c *conn) write(b []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(timeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// New checks cfg and returns an agent.
func New(cfg Config, runner Runner) (*Agent, error) {
	if !strings.HasPrefix(cfg.URL, "wss://") {
		return nil, fmt.Errorf("agent: sweeper url %q must start with wss://", cfg.URL)
	}
	if runner == nil {
		return nil, errors.New("agent: no runner")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CAPEM) {
		return nil, errors.New("agent: no certificate in the CA file")
	}
	if cfg.HostID == "" {
		id, err := MachineID()
		if err != nil {
			return nil, fmt.Errorf("agent: host id: %w (set --host-identifier)", err)
		}
		cfg.HostID = id
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 90 * time.Second
	}
	if cfg.MaxHeldBytes <= 0 {
		cfg.MaxHeldBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	if cfg.Dialer != nil {
		d = *cfg.Dialer
	}
	d.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	d.ReadBufferSize, d.WriteBufferSize, d.WriteBufferPool = 512, 16<<10, writeBuffers
	a := &Agent{cfg: cfg, log: cfg.Logger.With("host", cfg.HostID), runner: runner, dialer: &d,
		held: map[wire.QueryRef]*heldResult{}, running: map[wire.QueryRef]bool{}}
	a.denied = cfg.DeniedTables
	if a.denied == nil {
		a.denied = wire.DefaultDeniedTables
	}
	a.nodeKey = a.loadState("node_key")
	if len(cfg.QueryKey) == 0 {
		if k := a.loadState("query_key"); len(k) == ed25519.PublicKeySize*2 {
			cfg.QueryKey = unhex(k)
		}
	}
	if len(cfg.QueryKey) != 0 {
		if len(cfg.QueryKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("agent: query key of %d bytes, want %d", len(cfg.QueryKey), ed25519.PublicKeySize)
		}
		a.verifier = wire.NewVerifier(cfg.QueryKey)
	}
	a.cfg = cfg
	return a, nil
}

// Run connects to the sweeper and serves it until ctx ends, reconnecting
// with backoff. It returns ctx's error, or an error that retrying cannot
// fix (the sweeper refused the enroll secret).
func Run(ctx context.Context, cfg Config, runner Runner) error {
	a, err := New(cfg, runner)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// ErrRefused is returned by Run when the sweeper refuses the enroll secret.
var ErrRefused = errors.New("agent: sweeper refused the enrollment")

// Run serves the sweeper until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	failures := 0
	for {
		start := time.Now()
		err := a.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrRefused) {
			return err
		}
		if time.Since(start) > a.cfg.MaxBackoff {
			failures = 0
		}
		failures++
		wait := a.backoff(failures)
		a.log.Info("disconnected from sweeper; retrying", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// backoff is "full jitter": uniform in [min, min·2^n] capped at max, so
// a fleet that lost the sweeper together comes back spread out.
func (a *Agent) backoff(n int) time.Duration {
	ceil := a.cfg.MinBackoff << min(n, 20)
	if ceil > a.cfg.MaxBackoff || ceil <= 0 {
		ceil = a.cfg.MaxBackoff
	}
	return a.cfg.MinBackoff + time.Duration(rand.Int64N(int64(ceil-a.cfg.MinBackoff)+1))
}

// Delivered returns how many answers the sweeper has acknowledged.
func (a *Agent) Delivered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.delivered
}

// Held returns how many answers wait for delivery.
func (a *Agent) Held() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.held)
}

// Connected reports whether the agent holds a welcomed connection.
func (a *Agent) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn != nil
}

func (a *Agent) statePath(name string) string { return filepath.Join(a.cfg.StateDir, name) }

func (a *Agent) loadState(name string) string {
	if a.cfg.StateDir == "" {
		return ""
	}
	b, err := os.ReadFile(a.statePath(name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a *Agent) saveState(name, v string) {
	if a.cfg.StateDir == "" {
		return
	}
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		a.log.Error("state not saved", "file", name, "err", err)
		return
	}
	tmp := a.statePath(name + ".tmp")
	if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
		a.log.Error("state not saved", "file", name, "err", err)
		return
	}
	if err := os.Rename(tmp, a.statePath(name)); err != nil {
		a.log.Error("state not saved", "file", name, "err", err)
	}
}

func unhex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				return nil
			}
		}
		b[i] = v
	}
	return b
}
