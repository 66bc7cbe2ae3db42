package lineage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"scsweep/extension/events"
)

// start builds a process start; entity may be "".
func start(eid string, pid, ppid, t int64, entity, parentEntity, path string) *events.Event {
	return &events.Event{
		EID: eid, PID: pid, HasPID: true, ParentPID: ppid, HasParentPID: true, Time: t,
		EntityID: entity, ParentEntityID: parentEntity, Path: path, Name: base(path),
		Cmdline: fmt.Sprintf("%q --from %s", path, eid),
	}
}

const (
	scService = `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`
	cmd       = `C:\Windows\System32\cmd.exe`
	notepad   = `C:\Windows\System32\notepad.exe`
	services  = `C:\Windows\System32\services.exe`
	wininit   = `C:\Windows\System32\wininit.exe`
)

// child is a start whose source gave only the parent pid (as 4688 or ETW do).
func child(eid string, pid, ppid, t int64) *events.Event {
	return start(eid, pid, ppid, t, "", "", cmd)
}

func TestFillParent(t *testing.T) {
	tests := []struct {
		name    string
		store   []*events.Event
		child   *events.Event
		wantEID string // eid of the start that must be the parent; "" for none
	}{
		{
			name:    "parent found by pid fills the missing fields",
			store:   []*events.Event{start("p", 100, 4, 10, "", "", scService)},
			child:   child("c", 200, 100, 20),
			wantEID: "p",
		},
		{
			name:    "parent started in the same second as the child",
			store:   []*events.Event{start("p", 100, 4, 20, "", "", scService)},
			child:   child("c", 200, 100, 20),
			wantEID: "p",
		},
		{
			name: "entity id wins over the latest start of the pid",
			store: []*events.Event{
				start("old", 100, 4, 10, "{A}", "", scService),
				start("new", 100, 4, 15, "{B}", "", notepad),
			},
			child:   start("c", 200, 100, 20, "{C}", "{A}", cmd),
			wantEID: "old",
		},
		{
			name:    "entity id unknown and the pid's start has another entity id",
			store:   []*events.Event{start("other", 100, 4, 10, "{B}", "", scService)},
			child:   start("c", 200, 100, 20, "{C}", "{A}", cmd),
			wantEID: "",
		},
		{
			name:    "entity id unknown and the pid's start has none: pid rules apply",
			store:   []*events.Event{start("p", 100, 4, 10, "", "", scService)},
			child:   start("c", 200, 100, 20, "{C}", "{A}", cmd),
			wantEID: "p",
		},
		{
			name:    "entity id match that started after the child is rejected",
			store:   []*events.Event{start("late", 100, 4, 30, "{A}", "", scService)},
			child:   start("c", 200, 100, 20, "{C}", "{A}", cmd),
			wantEID: "",
		},
		{
			name: "pid reuse: child before the reuse gets the first process",
			store: []*events.Event{
				start("first", 100, 4, 10, "", "", scService),
				start("second", 100, 4, 50, "", "", notepad),
			},
			child:   child("c", 200, 100, 20),
			wantEID: "first",
		},
		{
			name: "pid reuse: child after the reuse gets the second process",
			store: []*events.Event{
				start("first", 100, 4, 10, "", "", scService),
				start("second", 100, 4, 50, "", "", notepad),
			},
			child:   child("c", 200, 100, 60),
			wantEID: "second",
		},
		{
			name:    "only start of the pid came after the child",
			store:   []*events.Event{start("later", 100, 4, 30, "", "", scService)},
			child:   child("c", 200, 100, 20),
			wantEID: "",
		},
		{
			name: "pid reuse: latest start contradicts the child's parent path and the older one is not tried",
			store: []*events.Event{
				start("first", 100, 4, 10, "", "", scService),
				start("second", 100, 4, 15, "", "", notepad),
			},
			child: func() *events.Event {
				c := child("c", 200, 100, 20)
				c.ParentPath = scService
				return c
			}(),
			wantEID: "",
		},
		{
			name:  "parent path compared case-insensitively",
			store: []*events.Event{start("p", 100, 4, 10, "", "", scService)},
			child: func() *events.Event {
				c := child("c", 200, 100, 20)
				c.ParentPath = `c:\program files (x86)\screenconnect\screenconnect.service.exe`
				return c
			}(),
			wantEID: "p",
		},
		{
			name:  "parent name contradicts when the child has no parent path",
			store: []*events.Event{start("p", 100, 4, 10, "", "", notepad)},
			child: func() *events.Event {
				c := child("c", 200, 100, 20)
				c.ParentName = "ScreenConnect.Service.exe"
				return c
			}(),
			wantEID: "",
		},
		{
			name:  "parent name agrees when the candidate has only a name",
			store: []*events.Event{{EID: "p", PID: 100, HasPID: true, Time: 10, Name: "ScreenConnect.Service.exe"}},
			child: func() *events.Event {
				c := child("c", 200, 100, 20)
				c.ParentPath = scService
				return c
			}(),
			wantEID: "p",
		},
		{
			name:    "child is its own candidate",
			store:   []*events.Event{start("c", 200, 200, 20, "", "", cmd)},
			child:   start("c", 200, 200, 20, "", "", cmd),
			wantEID: "",
		},
		{
			name:    "no parent pid and no parent entity id",
			store:   []*events.Event{start("p", 100, 4, 10, "", "", scService)},
			child:   &events.Event{EID: "c", PID: 200, HasPID: true, Time: 20},
			wantEID: "",
		},
		{
			name:    "empty store",
			child:   child("c", 200, 100, 20),
			wantEID: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory()
			for _, ev := range tc.store {
				m.Add(ev)
			}
			got, err := Parent(context.Background(), tc.child, m)
			if err != nil {
				t.Fatalf("Parent: %v", err)
			}
			gotEID := ""
			if got != nil {
				gotEID = got.EID
			}
			if gotEID != tc.wantEID {
				t.Fatalf("parent: got %q, want %q", gotEID, tc.wantEID)
			}
			ev := *tc.child
			before := ev
			if err := Fill(context.Background(), &ev, m, 4); err != nil {
				t.Fatalf("Fill: %v", err)
			}
			if got == nil {
				if ev.ParentName != before.ParentName || ev.ParentPath != before.ParentPath ||
					ev.ParentCmdline != before.ParentCmdline || len(ev.Ancestry) != 0 {
					t.Fatalf("Fill changed an event without a parent: got %+v, want %+v", ev, before)
				}
				return
			}
			if before.ParentPath == "" && ev.ParentPath != got.Path {
				t.Errorf("parent_path: got %q, want %q", ev.ParentPath, got.Path)
			}
			if before.ParentName == "" && ev.ParentName != got.Name {
				t.Errorf("parent_name: got %q, want %q", ev.ParentName, got.Name)
			}
			if ev.ParentCmdline != got.Cmdline {
				t.Errorf("parent_cmdline: got %q, want %q", ev.ParentCmdline, got.Cmdline)
			}
			if len(ev.Ancestry) == 0 || ev.Ancestry[0].PID != got.PID || ev.Ancestry[0].Time != got.Time {
				t.Errorf("ancestry[0]: got %+v, want the parent %s", ev.Ancestry, got.EID)
			}
		})
	}
}

func TestFillKeepsFieldsTheSourceGave(t *testing.T) {
	m := NewMemory()
	m.Add(start("p", 100, 4, 10, "{P}", "", scService))
	ev := start("c", 200, 100, 20, "{C}", "{P}", cmd)
	ev.ParentCmdline = `"ScreenConnect.Service.exe" ?e=Access`
	ev.ParentName = "ScreenConnect.Service.exe"
	if err := Fill(context.Background(), ev, m, 4); err != nil {
		t.Fatal(err)
	}
	if ev.ParentCmdline != `"ScreenConnect.Service.exe" ?e=Access` {
		t.Errorf("parent_cmdline: got %q, want the source's own", ev.ParentCmdline)
	}
	if ev.ParentPath != scService {
		t.Errorf("parent_path: got %q, want %q", ev.ParentPath, scService)
	}
}

func TestFillSetsParentPIDFromEntity(t *testing.T) {
	m := NewMemory()
	m.Add(start("p", 100, 4, 10, "{P}", "", scService))
	ev := &events.Event{EID: "c", PID: 200, HasPID: true, Time: 20, ParentEntityID: "{P}"}
	if err := Fill(context.Background(), ev, m, 1); err != nil {
		t.Fatal(err)
	}
	if !ev.HasParentPID || ev.ParentPID != 100 {
		t.Errorf("parent_pid: got %d (known %v), want 100", ev.ParentPID, ev.HasParentPID)
	}
}

func TestAncestry(t *testing.T) {
	// wininit(4 → 500) → services(600) → ScreenConnect.Service(700) → cmd(800) → child(900)
	chainStore := []*events.Event{
		start("wininit", 500, 4, 1, "", "", wininit),
		start("services", 600, 500, 2, "", "", services),
		start("sc", 700, 600, 3, "", "", scService),
		start("cmd", 800, 700, 4, "", "", cmd),
	}
	anc := func(eids ...string) []string { return eids }
	tests := []struct {
		name     string
		store    []*events.Event
		maxDepth int
		want     []string
	}{
		{"full chain, nearest first", chainStore, 10, anc("cmd", "sc", "services", "wininit")},
		{"cut at max depth", chainStore, 2, anc("cmd", "sc")},
		{"depth one is the parent only", chainStore, 1, anc("cmd")},
		{"depth zero fills fields but lists no ancestor", chainStore, 0, nil},
		{
			"chain stops where pid reuse breaks it",
			append([]*events.Event{
				// services' pid 600 was reused after services started
				// but before sc: sc's parent path no longer matches.
				start("services", 600, 500, 2, "", "", services),
				start("reuse", 600, 500, 3, "", "", notepad),
			}, func() []*events.Event {
				sc := start("sc", 700, 600, 3, "", "", scService)
				sc.ParentPath = services
				return []*events.Event{sc, start("cmd", 800, 700, 4, "", "", cmd)}
			}()...),
			10, anc("cmd", "sc"),
		},
		{
			"cycle in corrupt data stops",
			[]*events.Event{
				start("a", 10, 20, 5, "", "", cmd),
				start("b", 20, 10, 5, "", "", notepad),
			},
			10, anc("b", "a"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory()
			for _, ev := range tc.store {
				m.Add(ev)
			}
			parentPID := int64(800)
			if tc.name == "cycle in corrupt data stops" {
				parentPID = 20
			}
			ev := child("child", 900, parentPID, 5)
			if err := Fill(context.Background(), ev, m, tc.maxDepth); err != nil {
				t.Fatal(err)
			}
			var got []string
			byKey := map[string]string{}
			for _, s := range tc.store {
				byKey[fmt.Sprintf("%d@%d", s.PID, s.Time)] = s.EID
			}
			for _, a := range ev.Ancestry {
				got = append(got, byKey[fmt.Sprintf("%d@%d", a.PID, a.Time)])
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ancestry: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAncestorFields(t *testing.T) {
	m := NewMemory()
	m.Add(start("p", 100, 4, 10, "{P}", "", scService))
	ev := start("c", 200, 100, 20, "{C}", "{P}", cmd)
	if err := Fill(context.Background(), ev, m, 3); err != nil {
		t.Fatal(err)
	}
	want := []events.Ancestor{{PID: 100, EntityID: "{P}", Name: "ScreenConnect.Service.exe", Path: scService, Time: 10}}
	if !reflect.DeepEqual(ev.Ancestry, want) {
		t.Fatalf("ancestry: got %+v, want %+v", ev.Ancestry, want)
	}
	if got, want := ev.AncestryJSON(), `[{"pid":100,"entity_id":"{P}","name":"ScreenConnect.Service.exe","path":"C:\\Program Files (x86)\\ScreenConnect\\ScreenConnect.Service.exe","time":10}]`; got != want {
		t.Fatalf("ancestry JSON: got %s, want %s", got, want)
	}
}

type failing struct{ err error }

func (f failing) ByEntityID(context.Context, string) (*events.Event, error) { return nil, f.err }
func (f failing) LatestStart(context.Context, int64, int64) (*events.Event, error) {
	return nil, f.err
}

func TestFillReportsFinderErrors(t *testing.T) {
	boom := errors.New("disk gone")
	for _, ev := range []*events.Event{
		start("c", 200, 100, 20, "{C}", "{P}", cmd),
		child("c", 200, 100, 20),
	} {
		err := Fill(context.Background(), ev, failing{boom}, 3)
		if !errors.Is(err, boom) {
			t.Errorf("Fill error: got %v, want %v", err, boom)
		}
	}
}

func TestMemoryIgnoresDuplicateEID(t *testing.T) {
	m := NewMemory()
	m.Add(start("p", 100, 4, 10, "", "", scService))
	m.Add(start("p", 100, 4, 10, "", "", scService))
	if got := m.Len(); got != 1 {
		t.Fatalf("Len: got %d, want 1", got)
	}
}

func TestMemoryLatestStartTies(t *testing.T) {
	m := NewMemory()
	m.Add(start("a", 100, 4, 10, "", "", cmd))
	m.Add(start("b", 100, 4, 10, "", "", notepad))
	got, err := m.LatestStart(context.Background(), 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.EID != "b" {
		t.Fatalf("LatestStart: got %v, want the start added last (b)", got)
	}
}

func TestChain(t *testing.T) {
	batch, store := NewMemory(), NewMemory()
	store.Add(start("old", 100, 4, 10, "{OLD}", "", scService))
	batch.Add(start("new", 100, 4, 15, "{NEW}", "", notepad))
	c := Chain(batch, store)
	ctx := context.Background()
	if got, _ := c.LatestStart(ctx, 100, 20); got == nil || got.EID != "new" {
		t.Errorf("LatestStart at 20: got %v, want new", got)
	}
	if got, _ := c.LatestStart(ctx, 100, 12); got == nil || got.EID != "old" {
		t.Errorf("LatestStart at 12: got %v, want old", got)
	}
	if got, _ := c.ByEntityID(ctx, "{OLD}"); got == nil || got.EID != "old" {
		t.Errorf("ByEntityID: got %v, want old", got)
	}
	if got, _ := c.ByEntityID(ctx, "{NONE}"); got != nil {
		t.Errorf("ByEntityID unknown: got %v, want nil", got)
	}
}

func BenchmarkFill(b *testing.B) {
	m := NewMemory()
	const n = 10000
	for i := int64(0); i < n; i++ {
		m.Add(start(fmt.Sprint(i), 1000+i, 1000+i-1, i, "", "", cmd))
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := child("x", 99999, 1000+n-1, n)
		if err := Fill(ctx, ev, m, 8); err != nil {
			b.Fatal(err)
		}
		if len(ev.Ancestry) != 8 {
			b.Fatalf("ancestry: got %d, want 8", len(ev.Ancestry))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestFillBatchNewestFirst(t *testing.T) {
	// As Get-WinEvent lists them: newest first. The store already knows
	// services.exe from an earlier import.
	store := NewMemory()
	store.Add(start("services", 600, 500, 1, "{S}", "", services))
	batch := []*events.Event{
		start("cmd", 800, 700, 4, "{C}", "{SC}", cmd),
		start("sc", 700, 600, 3, "{SC}", "{S}", scService),
	}
	if err := FillBatch(context.Background(), batch, store, 5); err != nil {
		t.Fatal(err)
	}
	if got := batch[0].ParentPath; got != scService {
		t.Errorf("cmd parent_path: got %q, want %q", got, scService)
	}
	var got []string
	for _, a := range batch[0].Ancestry {
		got = append(got, a.EntityID)
	}
	if want := []string{"{SC}", "{S}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cmd ancestry: got %v, want %v", got, want)
	}
	if got := batch[1].ParentPath; got != services {
		t.Errorf("sc parent_path: got %q, want %q", got, services)
	}
}

func TestFillBatchWithoutStore(t *testing.T) {
	batch := []*events.Event{child("c", 200, 100, 20), start("p", 100, 4, 10, "", "", scService)}
	if err := FillBatch(context.Background(), batch, nil, 2); err != nil {
		t.Fatal(err)
	}
	if batch[0].ParentName != "ScreenConnect.Service.exe" {
		t.Errorf("parent_name: got %q, want ScreenConnect.Service.exe", batch[0].ParentName)
	}
}

func ExampleFillBatch() {
	batch := []*events.Event{
		// cmd.exe from a source that gives only the parent pid (4688, ETW).
		{EID: "2", PID: 6212, HasPID: true, ParentPID: 2816, HasParentPID: true, Time: 1708524191,
			Name: "cmd.exe", Path: `C:\Windows\SysWOW64\cmd.exe`},
		{EID: "1", PID: 2816, HasPID: true, Time: 1708520000,
			Name: "ScreenConnect.Service.exe", Path: `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`},
	}
	if err := FillBatch(context.Background(), batch, nil, 8); err != nil {
		fmt.Println(err)
	}
	fmt.Println(batch[0].ParentName)
	fmt.Println(batch[0].AncestryJSON())
	// Output:
	// ScreenConnect.Service.exe
	// [{"pid":2816,"name":"ScreenConnect.Service.exe","path":"C:\\Program Files (x86)\\ScreenConnect\\ScreenConnect.Service.exe","time":1708520000}]
}
