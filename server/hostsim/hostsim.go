// Package hostsim simulates a fleet: N agents in one process, each with its
// own small SQLite database of process rows, connected to a real sweeper
// over TLS websockets. Load tests and the fan-out benchmarks use it, so
// every change to the hub can be measured against thousands of hosts.
//
// It is the one place the server side imports the extension's agent: a
// simulator of hosts is, by nature, both sides at once.
package hostsim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"scsweep/extension/agent"
	"scsweep/extension/schema"
)

// Config describes a simulated fleet.
type Config struct {
	Hosts       int
	RowsPerHost int
	// Dir holds each host's database and state directory.
	Dir          string
	URL          string
	CAPEM        []byte
	EnrollSecret string
	// HostPrefix names hosts HostPrefix-00001 ...; default "sim".
	HostPrefix string
	Logger     *slog.Logger
	// MaxOpenDBs bounds the host databases kept open between queries (each
	// holds a file descriptor); beyond it hosts open theirs per query.
	// Default 1024.
	MaxOpenDBs int
	// Wrap, when set, wraps each host's runner (tests use it to stall or
	// fail a host).
	Wrap func(host string, r agent.Runner) agent.Runner
}

// Sim is a running simulated fleet.
type Sim struct {
	cfg     Config
	runSem  chan struct{}
	dbSlots chan struct{}
	Hosts   []string
	mu      sync.Mutex
	agents  map[string]*running
}

type running struct {
	a      *agent.Agent
	db     *DBRunner
	cancel context.CancelFunc
	done   chan struct{}
}

// Start creates the host databases (once; later starts reuse them) and
// starts every agent.
func Start(ctx context.Context, cfg Config) (*Sim, error) {
	if cfg.HostPrefix == "" {
		cfg.HostPrefix = "sim"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxOpenDBs <= 0 {
		cfg.MaxOpenDBs = 1024
	}
	tmpl := filepath.Join(cfg.Dir, "template.db")
	if err := WriteProcessDB(tmpl, "template", cfg.RowsPerHost); err != nil {
		return nil, err
	}
	// Simulated hosts share this machine's cores and file descriptors:
	// running every host's query at once would only thrash both.
	// Open databases cost a file descriptor each; beyond the slots, hosts
	// open theirs per query.
	s := &Sim{cfg: cfg, agents: map[string]*running{}, runSem: make(chan struct{}, 4*runtime.NumCPU()), dbSlots: make(chan struct{}, cfg.MaxOpenDBs)}
	for i := 1; i <= cfg.Hosts; i++ {
		host := fmt.Sprintf("%s-%05d", cfg.HostPrefix, i)
		s.Hosts = append(s.Hosts, host)
		db := s.dbPath(host)
		if _, err := os.Stat(db); err != nil {
			if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
				return nil, fmt.Errorf("hostsim: %w", err)
			}
			if err := copyFile(tmpl, db); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range s.Hosts {
		if err := s.StartHost(ctx, h); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Sim) dbPath(host string) string { return filepath.Join(s.cfg.Dir, host, "events.db") }

// StartHost starts (or restarts) one host's agent with its state directory,
// as a restarted extension would.
func (s *Sim) StartHost(ctx context.Context, host string) error {
	db := &DBRunner{Path: s.dbPath(host), slots: s.dbSlots}
	var run agent.Runner = func(ctx context.Context, q string) ([]map[string]string, error) {
		select {
		case s.runSem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-s.runSem }()
		return db.Run(ctx, q)
	}
	if s.cfg.Wrap != nil {
		run = s.cfg.Wrap(host, run)
	}
	a, err := agent.New(agent.Config{
		URL: s.cfg.URL, EnrollSecret: s.cfg.EnrollSecret, CAPEM: s.cfg.CAPEM, HostID: host, Hostname: host,
		AgentVersion: "hostsim", StateDir: filepath.Join(s.cfg.Dir, host, "state"), Logger: s.cfg.Logger,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second,
	}, run)
	if err != nil {
		return fmt.Errorf("hostsim: %s: %w", host, err)
	}
	actx, cancel := context.WithCancel(ctx)
	r := &running{a: a, db: db, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if old := s.agents[host]; old != nil {
		s.mu.Unlock()
		cancel()
		return fmt.Errorf("hostsim: %s already running", host)
	}
	s.agents[host] = r
	s.mu.Unlock()
	go func() {
		defer close(r.done)
		if err := a.Run(actx); err != nil && !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Error("agent stopped", "host", host, "err", err)
		}
	}()
	return nil
}

// KillHost stops one host's agent abruptly, as a crash would: whatever it
// held in memory is gone.
func (s *Sim) KillHost(host string) {
	s.mu.Lock()
	r := s.agents[host]
	delete(s.agents, host)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
		r.db.Close()
	}
}

// Agent returns a host's running agent, or nil.
func (s *Sim) Agent(host string) *agent.Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.agents[host]; r != nil {
		return r.a
	}
	return nil
}

// Connected counts agents holding a welcomed connection.
func (s *Sim) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.agents {
		if r.a.Connected() {
			n++
		}
	}
	return n
}

// WaitConnected waits until every running agent is connected.
func (s *Sim) WaitConnected(ctx context.Context) error {
	for {
		s.mu.Lock()
		want := len(s.agents)
		s.mu.Unlock()
		if s.Connected() == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hostsim: %d of %d agents connected: %w", s.Connected(), want, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop stops every agent.
func (s *Sim) Stop() {
	s.mu.Lock()
	hosts := make([]string, 0, len(s.agents))
	for h := range s.agents {
		hosts = append(hosts, h)
	}
	s.mu.Unlock()
	for _, h := range hosts {
		s.mu.Lock()
		r := s.agents[h]
		s.mu.Unlock()
		if r != nil {
			r.cancel()
		}
	}
	for _, h := range hosts {
		s.KillHost(h)
	}
}

// DBRunner runs queries read-only against one SQLite file. The database is
// opened at the first query and kept: opening costs more than a small
// query, and a simulator should spend its time on the protocol.
type DBRunner struct {
	Path string
	// slots, when set, bounds how many DBRunners keep their database open;
	// without a free slot the database is opened for the query only.
	slots chan struct{}
	mu    sync.Mutex
	db    *sql.DB
}

// Run is an agent.Runner.
func (r *DBRunner) Run(ctx context.Context, query string) ([]map[string]string, error) {
	r.mu.Lock()
	if r.db == nil && r.slots != nil {
		select {
		case r.slots <- struct{}{}:
		default:
			r.mu.Unlock()
			return SQLiteRunner(r.Path)(ctx, query)
		}
	}
	if r.db == nil {
		db, err := sql.Open("sqlite", "file:"+r.Path+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			r.release()
			r.mu.Unlock()
			return nil, err
		}
		db.SetMaxOpenConns(1)
		r.db = db
	}
	db := r.db
	r.mu.Unlock()
	return queryStrings(ctx, db, query)
}

// Close closes the database if it was opened.
func (r *DBRunner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		return nil
	}
	err := r.db.Close()
	r.db = nil
	r.release()
	return err
}

func (r *DBRunner) release() {
	if r.slots != nil {
		<-r.slots
	}
}

// SQLiteRunner runs queries read-only against one SQLite file, opening it
// per query so nothing stays open between queries. Values come back as
// osquery returns them: strings, NULL as "".
func SQLiteRunner(path string) agent.Runner {
	return func(ctx context.Context, query string) ([]map[string]string, error) {
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		return queryStrings(ctx, db, query)
	}
}

func queryStrings(ctx context.Context, db *sql.DB, query string) ([]map[string]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = vals[i].String
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// WriteProcessDB creates a SQLite file with a process_lineage_events table
// (the extension's columns) holding n process starts; every tenth is a
// shell spawned by ScreenConnect.Service.exe, so the rule has work to do.
func WriteProcessDB(path, host string, n int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	defer db.Close()
	t := schema.ProcessLineageEvents
	var defs, marks []string
	for _, c := range t.Columns {
		defs = append(defs, c.Name+" "+string(c.Type))
		marks = append(marks, "?")
	}
	if _, err := db.Exec(`CREATE TABLE ` + t.Name + ` (` + strings.Join(defs, ", ") + `)`); err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.Prepare(`INSERT INTO ` + t.Name + ` VALUES (` + strings.Join(marks, ", ") + `)`)
	if err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := 0; i < n; i++ {
		row := map[string]any{
			"eid": fmt.Sprintf("%s-%d", host, i), "time": base + int64(i), "ingested": base + int64(i), "source": "sim", "pid": 1000 + i,
			"name": "svchost.exe", "path": `C:\Windows\System32\svchost.exe`, "cmdline": `svchost.exe -k netsvcs`,
			"parent_pid": 600, "parent_name": "services.exe", "parent_path": `C:\Windows\System32\services.exe`,
			"pe_original_file_name": "svchost.exe", "signature_trusted": 1, "os_type": "windows",
		}
		if i%10 == 0 {
			row["name"], row["path"], row["cmdline"] = "cmd.exe", `C:\Windows\System32\cmd.exe`, `cmd.exe /c whoami`
			row["parent_name"], row["parent_path"] = "ScreenConnect.Service.exe", `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`
			row["pe_original_file_name"] = "Cmd.Exe"
		}
		args := make([]any, len(t.Columns))
		for j, c := range t.Columns {
			args[j] = row[c.Name]
		}
		if _, err := st.Exec(args...); err != nil {
			return fmt.Errorf("hostsim: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		return fmt.Errorf("hostsim: %w", err)
	}
	return nil
}
