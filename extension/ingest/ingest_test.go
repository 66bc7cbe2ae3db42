package ingest

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"scsweep/extension/events"
)

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", rel)
}

func openStore(t *testing.T) *events.Store {
	t.Helper()
	s, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestImportIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	p := &Pipeline{Store: s}
	file := repoFile(t, "testdata/telemetry/sysmon-xml/wevtutil-screenconnect.xml")
	first, err := p.ImportFile(ctx, file, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if first.New == 0 || first.Duplicates != 0 {
		t.Fatalf("first import: got %d new, %d duplicates", first.New, first.Duplicates)
	}
	again, err := p.ImportFile(ctx, file, "sysmon-xml")
	if err != nil {
		t.Fatal(err)
	}
	if again.New != 0 || again.Duplicates != first.New {
		t.Fatalf("re-import: got %d new, %d duplicates; want 0, %d", again.New, again.Duplicates, first.New)
	}
	if n, _ := s.Count(ctx); n != int64(first.New) {
		t.Fatalf("store holds %d, want %d", n, first.New)
	}
}

// A child whose record lacks its parent's details (as 4688 and ETW records
// do) gets them from the parent's earlier start, even when the parent comes
// later in the input and in a later batch written before.
func TestLineageFillsParentAcrossBatchesAndOrder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	p := &Pipeline{Store: s, Batch: 2}
	svc := &events.Event{EID: "svc", Time: 100, PID: 2816, HasPID: true, Name: "ScreenConnect.Service.exe",
		Path: `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`, Cmdline: `"ScreenConnect.Service.exe"`,
		ParentPID: 640, HasParentPID: true, ParentName: "services.exe"}
	services := &events.Event{EID: "services", Time: 50, PID: 640, HasPID: true, Name: "services.exe", Path: `C:\Windows\System32\services.exe`}
	if _, err := p.Write(ctx, []*events.Event{svc, services}); err != nil { // out of order on purpose
		t.Fatal(err)
	}
	child := &events.Event{EID: "child", Time: 200, PID: 6212, HasPID: true, Name: "cmd.exe", ParentPID: 2816, HasParentPID: true}
	if _, err := p.Write(ctx, []*events.Event{child}); err != nil {
		t.Fatal(err)
	}
	var row map[string]string
	s.Rows(ctx, events.Filter{Constraints: []events.Constraint{{Column: "eid", Op: events.OpEq, Value: "child"}}}, func(r map[string]string) error { row = r; return nil })
	if row["parent_name"] != "ScreenConnect.Service.exe" || row["parent_path"] != svc.Path || row["parent_cmdline"] != svc.Cmdline {
		t.Fatalf("parent fields: got %q %q %q", row["parent_name"], row["parent_path"], row["parent_cmdline"])
	}
	want := `[{"pid":2816,"name":"ScreenConnect.Service.exe","path":"C:\\Program Files (x86)\\ScreenConnect\\ScreenConnect.Service.exe","time":100},{"pid":640,"name":"services.exe","path":"C:\\Windows\\System32\\services.exe","time":50}]`
	if row["ancestry"] != want {
		t.Fatalf("ancestry:\n got %s\nwant %s", row["ancestry"], want)
	}
}

func TestEnrichRunsBeforeStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	calls := 0
	p := &Pipeline{Store: s, Enrich: func(_ context.Context, ev *events.Event) error {
		calls++
		if ev.SHA256 == "" {
			ev.SHA256 = "feed"
		}
		return nil
	}}
	if _, err := p.Write(ctx, []*events.Event{{EID: "a", Time: 1}, {EID: "b", Time: 2, SHA256: "kept"}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	s.Rows(ctx, events.Filter{}, func(r map[string]string) error { got = append(got, r["sha256"]); return nil })
	if calls != 2 || len(got) != 2 || got[0] != "feed" || got[1] != "kept" {
		t.Fatalf("got %d calls, hashes %v; want 2 calls, [feed kept]", calls, got)
	}
}
