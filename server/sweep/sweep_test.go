package sweep

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"scsweep/extension/schema"
	"scsweep/server/datadir"
	"scsweep/server/hostsim"
	"scsweep/server/hub"
	"scsweep/server/rules"
	"scsweep/server/store"
)

// fleet is a real sweeper on loopback (data dir, store file, hub over TLS)
// with simulated hosts: each has 100 process starts from 2026-01-01, every
// tenth a shell spawned by ScreenConnect.Service.exe.
type fleet struct {
	store *store.Store
	hub   *hub.Hub
	sim   *hostsim.Sim
}

func startFleet(t *testing.T, hosts int) *fleet {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := datadir.Open(t.TempDir(), datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{EnrollSecret: dir.EnrollSecret, SigningKey: dir.SigningKey, Store: st,
		Logger: quiet, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := &http.Server{Handler: mux, TLSConfig: dir.TLSConfig(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	sim, err := hostsim.Start(ctx, hostsim.Config{Hosts: hosts, RowsPerHost: 100, Dir: t.TempDir(),
		URL: "wss://" + ln.Addr().String() + "/ws", CAPEM: dir.CAPEM, EnrollSecret: dir.EnrollSecret, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := sim.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sim.Stop()
		h.Close()
		srv.Close()
		st.Close()
	})
	return &fleet{store: st, hub: h, sim: sim}
}

func bundledRule(t *testing.T, maxSignals int) *rules.Rule {
	t.Helper()
	rs, err := rules.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	r := *rs[0]
	if maxSignals > 0 {
		r.MaxSignals = maxSignals
	}
	return &r
}

// The simulated rows start 2026-01-01; a first sweep reaches them however
// old they are (all a host holds is swept once).
var day2 = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

func TestSweepAlertsOnceAndAdvancesWatermarks(t *testing.T) {
	f := startFleet(t, 3)
	r := bundledRule(t, 0)
	now := day2
	s := &Sweeper{Hub: f.hub, Store: f.store, Rules: []*rules.Rule{r}, Now: func() time.Time { return now }, QueryTimeout: 20 * time.Second}
	ctx := context.Background()
	res, err := s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hosts != 3 || res.Answered != 3 || res.Rows != 30 || res.Matches != 30 || res.Created != 30 || res.Dropped != 0 {
		t.Fatalf("first sweep: got %+v, want 3 hosts answering 30 candidate rows, 30 matches, 30 new alerts", res)
	}
	alerts, err := f.store.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 30 {
		t.Fatalf("stored alerts: got %d, want 30", len(alerts))
	}
	for _, h := range f.sim.Hosts {
		wm, ok, err := f.store.Watermark(ctx, h, r.RuleID)
		if err != nil || !ok || !wm.Equal(now) {
			t.Fatalf("watermark of %s: got %v %v %v, want %v", h, wm, ok, err, now)
		}
	}
	// Five minutes later: the window is the rule's look-back, which no
	// longer reaches the simulated rows; nothing new, nothing twice.
	now = now.Add(5 * time.Minute)
	res, err = s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered != 3 || res.Created != 0 {
		t.Fatalf("second sweep: got %+v, want 3 answers and no new alert", res)
	}
}

// Overlapping windows find the same events again: they never alert twice,
// and they do not take max_signals places from new matches.
func TestSweepOverlapAndCap(t *testing.T) {
	f := startFleet(t, 3)
	r := bundledRule(t, 12)
	r.Lookback = 400 * 24 * time.Hour // every run re-covers the simulated rows
	s := &Sweeper{Hub: f.hub, Store: f.store, Rules: []*rules.Rule{r}, Now: func() time.Time { return day2 }, QueryTimeout: 20 * time.Second}
	ctx := context.Background()
	res, err := s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Matches != 30 || res.Created != 12 || res.Dropped != 18 {
		t.Fatalf("capped sweep: got %+v, want 30 matches, 12 alerts, 18 dropped", res)
	}
	runs, err := f.store.RuleRuns(ctx, "", r.RuleID, 0)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, run := range runs {
		dropped += run.Dropped
	}
	if dropped != 18 {
		t.Fatalf("dropped recorded in runs: got %d, want 18", dropped)
	}
	// The same window again: the 12 stored alerts are known, 12 of the
	// other 18 become alerts.
	res, err = s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 12 || res.Dropped != 6 {
		t.Fatalf("re-swept window: got %+v, want 12 new alerts and 6 dropped", res)
	}
	// Alerts are newest first within a run: the newest matches won.
	alerts, _ := f.store.Alerts(ctx, store.AlertFilter{})
	if len(alerts) != 24 {
		t.Fatalf("stored: got %d alerts, want 24", len(alerts))
	}
}

// A host that does not answer keeps its watermark, so its window is swept
// again once it does; the others advance.
func TestSweepOfflineHostGapIsSweptOnReturn(t *testing.T) {
	f := startFleet(t, 3)
	r := bundledRule(t, 0)
	now := day2
	s := &Sweeper{Hub: f.hub, Store: f.store, Rules: []*rules.Rule{r}, Now: func() time.Time { return now }, QueryTimeout: 2 * time.Second}
	ctx := context.Background()
	gone := f.sim.Hosts[0]
	f.sim.KillHost(gone)
	res, err := s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered != 2 || res.Created != 20 || len(res.Failed) != 1 {
		t.Fatalf("sweep with a host down: got %+v, want 2 answers, 20 alerts, 1 failure", res)
	}
	if _, ok, _ := f.store.Watermark(ctx, gone, r.RuleID); ok {
		t.Fatalf("the silent host's watermark advanced")
	}
	if err := f.sim.StartHost(ctx, gone); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.sim.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour) // past the look-back: only the gap reaches the rows
	res, err = s.Sweep(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 10 {
		t.Fatalf("sweep after return: got %+v, want the returned host's 10 alerts", res)
	}
}

// The rule is matched against a document of only the fields it reads: for
// rows that match and rows that miss on each of its conditions, that
// decides exactly as the whole document does.
func TestEvaluatorMatchesAsTheWholeDocument(t *testing.T) {
	r := bundledRule(t, 0)
	table := &schema.ProcessLineageEvents
	eval := evaluator(table, r)
	base := map[string]string{"eid": "e1", "time": "1767225600", "ingested": "1767225600", "name": "cmd.exe", "path": `C:\Windows\System32\cmd.exe`,
		"parent_name": "ScreenConnect.Service.exe", "pe_original_file_name": "Cmd.Exe", "os_type": "windows", "signature_trusted": "1"}
	variants := []map[string]string{
		{}, {"name": "CMD.EXE"}, {"name": "svchost.exe"}, {"name": "svchost.exe", "pe_original_file_name": "PowerShell.EXE"},
		{"name": "", "pe_original_file_name": ""}, {"parent_name": "ScreenConnect.ClientService.exe"}, {"parent_name": ""},
		{"os_type": "linux"}, {"os_type": ""}, {"name": "powershell_ise.exe"}, {"name": "x.exe", "pe_original_file_name": "pwsh.dll"},
	}
	matched := 0
	for i, v := range variants {
		row := map[string]string{}
		for k, x := range base {
			row[k] = x
		}
		for k, x := range v {
			row[k] = x
		}
		full := table.ECSDocument(row)
		setHost(full, "h")
		part := eval(row)
		setHost(part, "h")
		if got, want := r.Match(part), r.Match(full); got != want {
			t.Errorf("variant %d %v: got match %v on the rule's fields, want %v as on the whole document", i, v, got, want)
		}
		if eventID(part) != "e1" {
			t.Errorf("variant %d: got event id %q, want e1", i, eventID(part))
		}
		if r.Match(full) {
			matched++
		}
	}
	if a, b := eval(base), eval(base); reflect.ValueOf(a).UnsafePointer() != reflect.ValueOf(b).UnsafePointer() {
		t.Errorf("got a new document per row for the bundled rule, want one refilled")
	}
	if matched == 0 || matched == len(variants) {
		t.Errorf("got %d of %d variants matching, want some of each", matched, len(variants))
	}
}
