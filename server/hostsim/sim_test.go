package hostsim

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scsweep/extension/agent"
	"scsweep/server/datadir"
	"scsweep/server/hub"
	"scsweep/server/hunt"
	"scsweep/server/store"
	"scsweep/server/wire"
)

// sweeper is a real sweeper on loopback: data dir, store file, hub over TLS.
type sweeper struct {
	dir   *datadir.Dir
	store *store.Store
	hub   *hub.Hub
	srv   *http.Server
	addr  string
	url   string
}

func startSweeper(t testing.TB) *sweeper {
	t.Helper()
	dir, err := datadir.Open(t.TempDir(), datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	sw := &sweeper{dir: dir, store: st, addr: "127.0.0.1:0"}
	sw.listen(t)
	t.Cleanup(func() {
		sw.hub.Close()
		sw.srv.Close()
		st.Close()
	})
	return sw
}

// listen starts a hub and its TLS server on sw.addr.
func (sw *sweeper) listen(t testing.TB) {
	t.Helper()
	h, err := hub.New(hub.Config{EnrollSecret: sw.dir.EnrollSecret, SigningKey: sw.dir.SigningKey, Store: sw.store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Grace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", sw.addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := &http.Server{Handler: mux, TLSConfig: sw.dir.TLSConfig(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	sw.hub, sw.srv, sw.addr = h, srv, ln.Addr().String()
	sw.url = "wss://" + sw.addr + "/ws"
}

// restart stops the hub and its server and starts new ones on the same
// address and store, as a restarted sweeper would.
func (sw *sweeper) restart(t testing.TB) {
	t.Helper()
	sw.hub.Close()
	sw.srv.Close()
	sw.listen(t)
}

func (sw *sweeper) sim(t testing.TB, hosts, rows int, wrap func(string, agent.Runner) agent.Runner) *Sim {
	t.Helper()
	s, err := Start(context.Background(), Config{Hosts: hosts, RowsPerHost: rows, Dir: t.TempDir(), URL: sw.url,
		CAPEM: sw.dir.CAPEM, EnrollSecret: sw.dir.EnrollSecret, Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.WaitConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

const ruleSQL = `SELECT eid, time, name, cmdline, parent_name FROM process_lineage_events WHERE parent_name = 'ScreenConnect.Service.exe'`

// stored returns the stored rows of a hunt per host.
func stored(t *testing.T, st *store.Store, huntID string) map[string]int {
	t.Helper()
	got := map[string]int{}
	if err := st.HuntRows(context.Background(), huntID, func(host string, r map[string]string) error {
		if r["parent_name"] != "ScreenConnect.Service.exe" {
			t.Errorf("stored row %v does not match the query", r)
		}
		got[host]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEndToEndThreeAgents(t *testing.T) {
	sw := startSweeper(t)
	s := sw.sim(t, 3, 50, nil)
	pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: ruleSQL, Timeout: 20 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Targeted != 3 || pr.Answered != 3 || pr.Rows != 15 || pr.Failed != 0 {
		t.Errorf("got %+v, want 3 hosts answering 15 rows", pr)
	}
	got := stored(t, sw.store, pr.HuntID)
	for _, h := range s.Hosts {
		if got[h] != 5 {
			t.Errorf("host %s: got %d stored rows, want 5", h, got[h])
		}
	}
	hosts, _ := sw.store.Hosts(context.Background())
	if len(hosts) != 3 || !hosts[0].Online || hosts[0].AgentVersion != "hostsim" {
		t.Errorf("got hosts %+v, want 3 enrolled and online", hosts)
	}
}

func TestAgentKilledMidQueryLosesNothing(t *testing.T) {
	sw := startSweeper(t)
	started := make(chan struct{})
	var once sync.Once
	wrap := func(host string, r agent.Runner) agent.Runner {
		return func(ctx context.Context, q string) ([]map[string]string, error) {
			if host == "sim-00002" {
				stall := false
				once.Do(func() { stall = true })
				if stall {
					close(started)
					<-ctx.Done() // stays stuck until the agent is killed
					return nil, ctx.Err()
				}
			}
			return r(ctx, q)
		}
	}
	s := sw.sim(t, 3, 50, wrap)
	type outcome struct {
		pr  hunt.Progress
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: ruleSQL, Timeout: 30 * time.Second}, nil)
		done <- outcome{pr, err}
	}()
	<-started
	s.KillHost("sim-00002")
	if err := s.StartHost(context.Background(), "sim-00002"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.pr.Rows != 15 || o.pr.Failed != 0 {
		t.Errorf("got %+v, want 15 rows and no failure after the restart", o.pr)
	}
	if got := stored(t, sw.store, o.pr.HuntID); got["sim-00002"] != 5 {
		t.Errorf("restarted host: got %d stored rows, want 5", got["sim-00002"])
	}
	// The restarted agent reconnected with its node key, not by re-enrolling.
	hosts, _ := sw.store.Hosts(context.Background())
	if len(hosts) != 3 {
		t.Errorf("got %d hosts, want 3", len(hosts))
	}
}

func TestWrongEnrollSecretIsRefused(t *testing.T) {
	sw := startSweeper(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	if err := WriteProcessDB(db, "x", 1); err != nil {
		t.Fatal(err)
	}
	err := agent.Run(context.Background(), agent.Config{URL: sw.url, EnrollSecret: "not-the-secret-at-all", CAPEM: sw.dir.CAPEM, HostID: "intruder",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, SQLiteRunner(db))
	if !errors.Is(err, agent.ErrRefused) {
		t.Fatalf("got %v, want ErrRefused", err)
	}
	if _, err := sw.store.Host(context.Background(), "intruder"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("got %v, want the refused host not stored", err)
	}
}

func TestDeniedTableIsRefusedWithAClearResult(t *testing.T) {
	sw := startSweeper(t)
	sw.sim(t, 2, 5, nil)
	pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: "SELECT * FROM curl WHERE url = 'http://example.com/'", Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	answers, err := sw.store.HuntAnswers(context.Background(), pr.HuntID)
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != 2 {
		t.Fatalf("got %d answers, want 2", len(answers))
	}
	for _, a := range answers {
		if a.Status != string(wire.StatusDenied) || !strings.Contains(a.Error, "denied table curl") || a.RowCount != 0 {
			t.Errorf("host %s: got %s %q with %d rows, want denied naming curl", a.HostID, a.Status, a.Error, a.RowCount)
		}
	}
}

func TestQueryErrorIsReported(t *testing.T) {
	sw := startSweeper(t)
	sw.sim(t, 1, 5, nil)
	pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: "SELECT nope FROM no_such_table", Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	answers, _ := sw.store.HuntAnswers(context.Background(), pr.HuntID)
	if len(answers) != 1 || answers[0].Status != string(wire.StatusError) || !strings.Contains(answers[0].Error, "no_such_table") {
		t.Errorf("got %+v, want an error naming no_such_table", answers)
	}
}

func TestAgentsReconnectAfterSweeperRestart(t *testing.T) {
	sw := startSweeper(t)
	sw.sim(t, 2, 20, nil)
	ctx := context.Background()
	before, _ := sw.store.Hosts(ctx)
	sw.restart(t)
	for sw.hub.Connected() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	pr, err := hunt.Run(ctx, sw.hub, sw.store, hunt.Request{SQL: ruleSQL, Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Rows != 4 || pr.Failed != 0 {
		t.Errorf("got %+v, want 4 rows from both hosts after the restart", pr)
	}
	after, _ := sw.store.Hosts(ctx)
	for i := range after {
		if after[i].NodeKeyHash != before[i].NodeKeyHash {
			t.Errorf("host %s re-enrolled, want a reconnect with its node key", after[i].ID)
		}
	}
}
