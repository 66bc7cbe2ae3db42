package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sweeper.db")
	s, err := Open(p)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	files, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := files[len(files)-1].Version; v != want {
		t.Errorf("got schema version %d, want %d", v, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(p)
	if err != nil {
		t.Fatalf("reopen: got %v, want migrations skipped", err)
	}
	defer s2.Close()
	if v2, _ := s2.SchemaVersion(ctx); v2 != v {
		t.Errorf("after reopen got version %d, want %d", v2, v)
	}
}

func TestOpenRefusesNonDatabase(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	if err := writeFile(p, "this is not sqlite, it is long enough to have a header of sorts......................................................"); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(p); err == nil {
		s.Close()
		t.Fatalf("got nil error opening a text file, want one")
	}
}

func TestHostsEnrollUpdateReopen(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	if err := s.EnrollHost(ctx, Host{ID: "h1", NodeKeyHash: "hash1", Hostname: "web", FirstSeen: t0, LastSeen: t0, Online: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NodeKeyHash(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown host: got %v, want ErrNotFound", err)
	}
	// Re-enrollment replaces the key but keeps first_seen.
	t1 := t0.Add(time.Hour)
	if err := s.EnrollHost(ctx, Host{ID: "h1", NodeKeyHash: "hash2", FirstSeen: t1, LastSeen: t1}); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Minute)
	if err := s.UpdateHosts(ctx, []HostUpdate{{ID: "h1", AgentVersion: "1.2", Seen: t2, Online: false}, {ID: "ghost", Seen: t2}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.Host(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	want := Host{ID: "h1", NodeKeyHash: "hash2", Hostname: "", AgentVersion: "1.2", FirstSeen: t0, LastSeen: t2, Online: false}
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
	hosts, _ := s.Hosts(ctx)
	if len(hosts) != 1 {
		t.Errorf("got %d hosts, want 1 (an update of an unknown host adds none)", len(hosts))
	}
}

func alert(id, host string, t time.Time) Alert {
	return Alert{ID: id, HostID: host, RuleID: "r1", Time: t, Severity: "high", RiskScore: 73, Doc: json.RawMessage(fmt.Sprintf(`{"kibana.alert.uuid":%q}`, id))}
}

func TestRecordRunsCreateOnlyAndWatermark(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	base := time.UnixMilli(1_700_000_000_000).UTC()
	run := func(to time.Time, ids ...string) RunRecord {
		r := RunRecord{Run: RuleRun{HostID: "h1", RuleID: "r1", From: to.Add(-9 * time.Minute), To: to, Started: to, Finished: to, Status: "ok", Matches: len(ids)}, Advance: true}
		for _, id := range ids {
			r.Alerts = append(r.Alerts, alert(id, "h1", to.Add(-time.Minute)))
		}
		return r
	}
	cases := []struct {
		name        string
		rec         RunRecord
		wantCreated int
		wantMark    time.Time
	}{
		{"first window", run(base, "a", "b"), 2, base},
		{"overlapping window repeats an alert", run(base.Add(5*time.Minute), "b", "c"), 1, base.Add(5 * time.Minute)},
		{"late older window does not move the mark back", run(base.Add(time.Minute), "a"), 0, base.Add(5 * time.Minute)},
	}
	for _, c := range cases {
		n, err := s.RecordRuns(ctx, []RunRecord{c.rec})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != c.wantCreated {
			t.Errorf("%s: got %d alerts created, want %d", c.name, n, c.wantCreated)
		}
		mark, ok, err := s.Watermark(ctx, "h1", "r1")
		if err != nil || !ok || !mark.Equal(c.wantMark) {
			t.Errorf("%s: got watermark %v %v %v, want %v", c.name, mark, ok, err, c.wantMark)
		}
	}
	failed := RunRecord{Run: RuleRun{HostID: "h1", RuleID: "r1", To: base.Add(time.Hour), Status: "error", Error: "timeout"}}
	if _, err := s.RecordRuns(ctx, []RunRecord{failed}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	alerts, err := s.Alerts(ctx, AlertFilter{HostID: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 3 {
		t.Errorf("after reopen got %d alerts, want 3", len(alerts))
	}
	mark, _, _ := s.Watermark(ctx, "h1", "r1")
	if !mark.Equal(base.Add(5 * time.Minute)) {
		t.Errorf("a failed run moved the watermark to %v, want %v", mark, base.Add(5*time.Minute))
	}
	runs, _ := s.RuleRuns(ctx, "h1", "r1", 0)
	if len(runs) != 4 || runs[0].Error != "timeout" && runs[len(runs)-1].Error != "timeout" {
		t.Errorf("got %d runs %+v, want 4 including the failed one", len(runs), runs)
	}
}

func TestRecordRunsIsAtomic(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	good := RunRecord{Run: RuleRun{HostID: "h1", RuleID: "r1", To: time.Now(), Status: "ok"}, Alerts: []Alert{alert("x", "h1", time.Now())}, Advance: true}
	bad := RunRecord{Run: RuleRun{HostID: "h2", RuleID: "r1"}, Alerts: []Alert{{ID: "y", HostID: "h2", RuleID: "r1", Doc: json.RawMessage(`{not json`)}}}
	if _, err := s.RecordRuns(ctx, []RunRecord{good, bad}); err == nil {
		t.Fatal("got nil error for an alert whose document is not JSON, want one")
	}
	alerts, _ := s.Alerts(ctx, AlertFilter{})
	if len(alerts) != 0 {
		t.Errorf("got %d alerts after a failed batch, want 0", len(alerts))
	}
	if _, ok, _ := s.Watermark(ctx, "h1", "r1"); ok {
		t.Errorf("got a watermark after a failed batch, want none")
	}
}

func TestAlertFilter(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	base := time.UnixMilli(1_700_000_000_000).UTC()
	a := []Alert{alert("1", "h1", base), alert("2", "h2", base.Add(time.Minute)), alert("3", "h1", base.Add(2*time.Minute))}
	a[1].Severity = "low"
	if _, err := s.InsertAlerts(ctx, a); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    AlertFilter
		want []string
	}{
		{"all newest first", AlertFilter{}, []string{"3", "2", "1"}},
		{"by host", AlertFilter{HostID: "h1"}, []string{"3", "1"}},
		{"by severity", AlertFilter{Severity: "low"}, []string{"2"}},
		{"since", AlertFilter{Since: base.Add(time.Minute)}, []string{"3", "2"}},
		{"limit", AlertFilter{Limit: 1}, []string{"3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Alerts(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, x := range got {
				ids = append(ids, x.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", ids, c.want)
			}
		})
	}
}

func TestHuntAnswersReplaceAndReopen(t *testing.T) {
	ctx := context.Background()
	s, p := openTemp(t)
	now := time.UnixMilli(1_700_000_000_000).UTC()
	if err := s.CreateHunt(ctx, Hunt{ID: "hu1", SQL: "select 1", Created: now, Deadline: now.Add(time.Minute), Targeted: 2}); err != nil {
		t.Fatal(err)
	}
	rows := func(n int) []map[string]string {
		var out []map[string]string
		for i := 0; i < n; i++ {
			out = append(out, map[string]string{"pid": fmt.Sprint(i), "name": "cmd.exe"})
		}
		return out
	}
	if _, err := s.AddAnswers(ctx, []HostAnswer{{HuntID: "hu1", HostID: "a", Status: "ok", Rows: rows(3)}, {HuntID: "hu1", HostID: "b", Status: "denied", Error: "curl"}}); err != nil {
		t.Fatal(err)
	}
	// Host a answers again (a re-delivered query): its rows are replaced.
	if _, err := s.AddAnswers(ctx, []HostAnswer{{HuntID: "hu1", HostID: "a", Status: "ok", Rows: rows(2)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishHunt(ctx, "hu1", "done", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishHunt(ctx, "nope", "done", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("finish unknown hunt: got %v, want ErrNotFound", err)
	}
	s.Close()
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if list, err := s.Hunts(ctx, 10); err != nil || len(list) != 1 || list[0].ID != "hu1" {
		t.Errorf("got hunts %+v %v, want [hu1]", list, err)
	}
	h, err := s.GetHunt(ctx, "hu1")
	if err != nil || h.Status != "done" || h.Targeted != 2 {
		t.Errorf("got hunt %+v %v, want done with 2 targeted", h, err)
	}
	ans, _ := s.HuntAnswers(ctx, "hu1")
	if len(ans) != 2 || ans[0].RowCount != 2 || ans[1].Status != "denied" {
		t.Errorf("got answers %+v, want a with 2 rows and b denied", ans)
	}
	var got []string
	if err := s.HuntRows(ctx, "hu1", func(host string, r map[string]string) error {
		got = append(got, host+":"+r["pid"])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a:0 a:1]" {
		t.Errorf("got rows %v, want [a:0 a:1]", got)
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				_, err = s.InsertAlerts(ctx, []Alert{alert(fmt.Sprintf("%d-%d", w, i), "h", time.Now())})
			}
			errs <- err
		}()
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				_, err = s.Alerts(ctx, AlertFilter{Limit: 5})
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Errorf("got %v, want no error under concurrency", err)
		}
	}
	all, _ := s.Alerts(ctx, AlertFilter{})
	if len(all) != 200 {
		t.Errorf("got %d alerts, want 200", len(all))
	}
}

// Runs are written in multi-row batches: every size around a batch's
// bound stores each run once and each advancing host's watermark.
func TestRecordRunsBatchSizes(t *testing.T) {
	ctx := context.Background()
	base := time.UnixMilli(1_700_000_000_000).UTC()
	for _, n := range []int{1, batchRows - 1, batchRows, batchRows + 1, 2*batchRows + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s, _ := openTemp(t)
			recs := make([]RunRecord, n)
			for i := range recs {
				recs[i] = RunRecord{Run: RuleRun{HostID: fmt.Sprintf("h%03d", i), RuleID: "r1", From: base, To: base.Add(time.Duration(i) * time.Second),
					Started: base, Finished: base, Rows: i, Status: "ok"}, Advance: i%2 == 0}
			}
			if _, err := s.RecordRuns(ctx, recs); err != nil {
				t.Fatal(err)
			}
			runs, err := s.RuleRuns(ctx, "", "r1", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != n {
				t.Fatalf("got %d runs, want %d", len(runs), n)
			}
			seen := map[string]int{}
			for _, r := range runs {
				seen[r.HostID] = r.Rows
			}
			marks, err := s.Watermarks(ctx, "r1")
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range recs {
				if got, ok := seen[rec.Run.HostID]; !ok || got != i {
					t.Errorf("run of %s: got rows %d (stored %v), want %d", rec.Run.HostID, got, ok, i)
				}
				m, ok := marks[rec.Run.HostID]
				if ok != rec.Advance || (ok && !m.Equal(rec.Run.To)) {
					t.Errorf("watermark of %s: got %v (%v), want %v only if advanced (%v)", rec.Run.HostID, m, ok, rec.Run.To, rec.Advance)
				}
			}
		})
	}
}

// Both ways AlertsExistSince answers (a scan of the rule's recent alerts,
// or a lookup per id when those are as many as the ids) give the same.
func TestAlertsExistSince(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	base := time.UnixMilli(1_700_000_000_000).UTC()
	a := []Alert{alert("old", "h1", base.Add(-time.Hour)), alert("a", "h1", base), alert("b", "h2", base.Add(time.Minute))}
	other := alert("c", "h1", base)
	other.RuleID = "r2"
	if _, err := s.InsertAlerts(ctx, append(a, other)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ids  []string
		want []string
	}{
		{"scan: fewer alerts than ids", []string{"a", "b", "x", "y", "z", "c"}, []string{"a", "b"}},
		{"lookups: as many alerts as ids", []string{"a", "x"}, []string{"a"}},
		{"nothing to check", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.AlertsExistSince(ctx, "r1", base, c.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			for _, id := range c.want {
				if !got[id] {
					t.Errorf("got %v, want %s in it", got, id)
				}
			}
		})
	}
}
