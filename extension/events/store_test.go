package events

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func sample(i int, ts int64) *Event {
	tr := i%2 == 0
	return &Event{
		EID: fmt.Sprintf("eid-%d", i), Time: ts, Source: "sysmon",
		PID: int64(1000 + i), HasPID: true, EntityID: fmt.Sprintf("{guid-%d}", i),
		Name: "cmd.exe", Path: `C:\Windows\System32\cmd.exe`, Cmdline: fmt.Sprintf("cmd.exe /c echo %d", i),
		ParentPID: 900, HasParentPID: true, ParentName: "ScreenConnect.Service.exe",
		Ancestry:         []Ancestor{{PID: 900, Name: "ScreenConnect.Service.exe"}},
		SignatureTrusted: &tr, OSType: "windows",
	}
}

func collect(t *testing.T, s *Store, f Filter) []map[string]string {
	t.Helper()
	var rows []map[string]string
	if err := s.Rows(context.Background(), f, func(r map[string]string) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("Rows(%+v): %v", f, err)
	}
	return rows
}

func TestInsertIsIdempotentAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{MaxAge: -1, MaxBytes: -1})
	batch := []*Event{sample(1, 100), sample(2, 200)}
	if n, err := s.Insert(ctx, batch); err != nil || n != 2 {
		t.Fatalf("first insert: got %d, %v; want 2, nil", n, err)
	}
	s.Close()

	s2, err := Open(path, Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if n, err := s2.Insert(ctx, append(batch, sample(3, 300))); err != nil || n != 1 {
		t.Fatalf("re-import: got %d new, %v; want 1, nil", n, err)
	}
	if c, _ := s2.Count(ctx); c != 3 {
		t.Fatalf("count: got %d, want 3", c)
	}
}

func TestRowRoundTrip(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ev := sample(4, time.Now().Unix())
	ev.HasParentPID = false // unknown parent pid must come back empty, not 0
	if _, err := s.Insert(context.Background(), []*Event{ev}); err != nil {
		t.Fatal(err)
	}
	rows := collect(t, s, Filter{})
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	if want := ev.Row(); !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("row mismatch:\n got %v\nwant %v", rows[0], want)
	}
	back, err := s.ByEntityID(context.Background(), ev.EntityID)
	if err != nil || back == nil {
		t.Fatalf("ByEntityID: %v, %v", back, err)
	}
	if !reflect.DeepEqual(back.Row(), ev.Row()) {
		t.Fatalf("ByEntityID: got %v, want %v", back.Row(), ev.Row())
	}
}

func TestFilters(t *testing.T) {
	s, _ := openTemp(t, Options{MaxAge: -1, MaxBytes: -1})
	var batch []*Event
	for i := 0; i < 10; i++ {
		batch = append(batch, sample(i, int64(100+i*10)))
	}
	batch[3].ParentName = "explorer.exe"
	if _, err := s.Insert(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    Filter
		want []string // eids
	}{
		{"time range", Filter{Constraints: []Constraint{{Column: "time", Op: OpGe, Value: "150"}, {Column: "time", Op: OpLt, Value: "180"}}}, []string{"eid-5", "eid-6", "eid-7"}},
		{"time equal", Filter{Constraints: []Constraint{{Column: "time", Op: OpEq, Value: "120"}}}, []string{"eid-2"}},
		{"time gt le", Filter{Constraints: []Constraint{{Column: "time", Op: OpGt, Value: "170"}, {Column: "time", Op: OpLe, Value: "190"}}}, []string{"eid-8", "eid-9"}},
		{"eid", Filter{Constraints: []Constraint{{Column: "eid", Op: OpEq, Value: "eid-4"}}}, []string{"eid-4"}},
		{"pid", Filter{Constraints: []Constraint{{Column: "pid", Op: OpEq, Value: "1002"}}}, []string{"eid-2"}},
		{"parent name equality folds case", Filter{Constraints: []Constraint{{Column: "parent_name", Op: OpEq, Value: "EXPLORER.EXE"}}}, []string{"eid-3"}},
		{"parent name like folds case", Filter{Constraints: []Constraint{{Column: "parent_name", Op: OpLike, Value: "EXPLORER.%"}}}, []string{"eid-3"}},
		{"pid in", Filter{Constraints: []Constraint{{Column: "pid", Op: OpIn, Values: []string{"1001", "1007", "5"}}}}, []string{"eid-1", "eid-7"}},
		{"eid is exact", Filter{Constraints: []Constraint{{Column: "eid", Op: OpEq, Value: "EID-4"}}}, nil},
		{"limit", Filter{Limit: 2}, []string{"eid-0", "eid-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range collect(t, s, tc.f) {
				got = append(got, r["eid"])
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterRejectsBadInput(t *testing.T) {
	s, _ := openTemp(t, Options{})
	for _, f := range []Filter{
		{Constraints: []Constraint{{Column: "cmdline", Op: OpEq, Value: "x"}}},
		{Constraints: []Constraint{{Column: "time", Op: OpGe, Value: "yesterday"}}},
		{Constraints: []Constraint{{Column: "time", Op: OpLike, Value: "1%"}}},
		{Constraints: []Constraint{{Column: "name", Op: "GLOB", Value: "x"}}},
		{Constraints: []Constraint{{Column: "pid", Op: OpIn}}},
		{Constraints: []Constraint{{Column: "name", Op: OpGt, Value: "a"}}},
	} {
		if err := s.Rows(context.Background(), f, func(map[string]string) error { return nil }); err == nil {
			t.Errorf("Rows(%+v): got nil error, want one", f)
		}
	}
}

func TestLatestStartAndStartsAfter(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{MaxAge: -1, MaxBytes: -1})
	a, b := sample(1, 100), sample(2, 200)
	a.PID, b.PID = 4242, 4242 // pid reused
	if _, err := s.Insert(ctx, []*Event{a, b}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		notAfter int64
		want     string
	}{{99, ""}, {150, "eid-1"}, {200, "eid-2"}, {500, "eid-2"}} {
		got, err := s.LatestStart(ctx, 4242, tc.notAfter)
		if err != nil {
			t.Fatal(err)
		}
		gotEID := ""
		if got != nil {
			gotEID = got.EID
		}
		if gotEID != tc.want {
			t.Errorf("LatestStart(4242, %d): got %q, want %q", tc.notAfter, gotEID, tc.want)
		}
	}
	if got, _ := s.StartsAfter(ctx, 4242, 100, 300); got == nil || got.EID != "eid-2" {
		t.Errorf("StartsAfter: got %v, want eid-2", got)
	}
}

func TestPruneByAge(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{MaxAge: time.Hour, MaxBytes: -1})
	now := time.Unix(1_000_000, 0)
	// Age is counted from storage: an old event stored now is kept.
	s.now = func() time.Time { return now.Add(-2 * time.Hour) }
	if _, err := s.Insert(ctx, []*Event{sample(1, now.Add(-time.Minute).Unix())}); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now.Add(-time.Minute) }
	if _, err := s.Insert(ctx, []*Event{sample(2, now.Add(-400*24*time.Hour).Unix())}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("Prune: got %d, %v; want 1, nil", n, err)
	}
	if rows := collect(t, s, Filter{}); len(rows) != 1 || rows[0]["eid"] != "eid-2" {
		t.Fatalf("after prune: got %v, want only eid-2", rows)
	}
}

func TestPruneBySize(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{MaxAge: -1, MaxBytes: 256 << 10})
	var batch []*Event
	for i := 0; i < 3000; i++ {
		e := sample(i, int64(i))
		e.Cmdline = fmt.Sprintf("%0400d", i) // ~1 MiB in all
		batch = append(batch, e)
	}
	if _, err := s.Insert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, time.Now())
	if err != nil || n == 0 {
		t.Fatalf("Prune: got %d, %v; want some removed", n, err)
	}
	used, _ := s.usedBytes(ctx)
	if used > 256<<10 {
		t.Fatalf("used bytes after prune: got %d, want <= %d", used, 256<<10)
	}
	oldest, _ := s.Oldest(ctx)
	if oldest == 0 {
		t.Fatalf("oldest events should be the ones removed; oldest kept is %d", oldest)
	}
	newest := collect(t, s, Filter{Constraints: []Constraint{{Column: "time", Op: OpEq, Value: "2999"}}})
	if len(newest) != 1 {
		t.Fatalf("newest event lost by size retention")
	}
}

func TestKV(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	if v, err := s.Get(ctx, "bookmark"); err != nil || v != "" {
		t.Fatalf("Get unset: got %q, %v", v, err)
	}
	for _, v := range []string{"a", "b"} {
		if err := s.Set(ctx, "bookmark", v); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "bookmark"); got != v {
			t.Fatalf("Get: got %q, want %q", got, v)
		}
	}
}

// Insert writes several rows per statement; a batch longer than one
// statement, with repeats inside it and across statements, still counts
// and keeps each eid once.
func TestInsertCountsAcrossStatements(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{MaxAge: -1, MaxBytes: -1})
	if _, err := s.Insert(ctx, []*Event{sample(5, 5), sample(140, 140)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		size    int
		repeats []int // indexes repeated at the end of the batch
		want    int
	}{
		{"one short statement", 3, nil, 3},
		{"exactly one full statement", insertChunk, nil, insertChunk},
		{"full statements and a tail with repeats and stored eids", 2*insertChunk + 17, []int{0, 70, 144}, 2*insertChunk + 17 - 2},
	}
	base := 1000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var batch []*Event
			for i := 0; i < tt.size; i++ {
				batch = append(batch, sample(base+i, int64(i)))
			}
			if tt.size > 140 {
				// eids already stored before this batch
				batch[0], batch[140] = sample(5, 5), sample(140, 140)
			}
			for _, r := range tt.repeats {
				batch = append(batch, batch[r])
			}
			before, _ := s.Count(ctx)
			got, err := s.Insert(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := s.Count(ctx)
			if got != tt.want || after-before != int64(tt.want) {
				t.Fatalf("got %d new (store grew by %d), want %d", got, after-before, tt.want)
			}
			base += 10_000
		})
	}
}
