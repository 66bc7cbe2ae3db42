package tables

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/events"
	"scsweep/extension/schema"
)

func newStore(t testing.TB, n int) *events.Store {
	t.Helper()
	s, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const batch = 10_000
	for i := 0; i < n; i += batch {
		var evs []*events.Event
		for j := i; j < i+batch && j < n; j++ {
			evs = append(evs, fakeEvent(j))
		}
		if _, err := s.Insert(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// fakeEvent i: every 7th is a ScreenConnect server child.
func fakeEvent(i int) *events.Event {
	e := &events.Event{
		EID: fmt.Sprintf("e%07d", i), Time: int64(1_700_000_000 + i), Source: "sysmon",
		PID: int64(4000 + i%5000), HasPID: true, Name: "svchost.exe",
		Path: `C:\Windows\System32\svchost.exe`, Cmdline: "svchost.exe -k netsvcs",
		ParentPID: 600, HasParentPID: true, ParentName: "services.exe", OSType: "windows",
	}
	if i%7 == 0 {
		e.Name, e.Path, e.Cmdline = "cmd.exe", `C:\Windows\System32\cmd.exe`, "cmd.exe /c whoami"
		e.ParentName = "ScreenConnect.Service.exe"
		e.PEOriginalFileName = "Cmd.Exe"
	}
	return e
}

func TestEngineQueries(t *testing.T) {
	s := newStore(t, 100)
	eng, err := NewEngine(ProcessLineageEvents(s, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cases := []struct {
		name, sql string
		want      int
	}{
		{"all", "SELECT * FROM process_lineage_events", 100},
		{"rule prefilter", "SELECT eid FROM process_lineage_events WHERE parent_name LIKE 'screenconnect.service.exe' AND name IN ('cmd.exe','powershell.exe')", 15},
		{"case sensitive equality is kept", "SELECT eid FROM process_lineage_events WHERE parent_name = 'screenconnect.service.exe'", 0},
		{"nocase equality", "SELECT eid FROM process_lineage_events WHERE parent_name = 'screenconnect.service.exe' COLLATE NOCASE", 15},
		{"time window", "SELECT eid FROM process_lineage_events WHERE time >= 1700000010 AND time < 1700000020", 10},
		{"eid", "SELECT eid FROM process_lineage_events WHERE eid = 'e0000042'", 1},
		{"aggregate", "SELECT count(*) AS n FROM process_lineage_events WHERE pe_original_file_name = 'Cmd.Exe'", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := eng.Query(context.Background(), tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != tc.want {
				t.Fatalf("got %d rows, want %d", len(res.Rows), tc.want)
			}
		})
	}
	res, err := eng.Query(context.Background(), "SELECT count(*) AS n FROM process_lineage_events WHERE pe_original_file_name = 'Cmd.Exe'")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0][0]; got != "15" {
		t.Fatalf("count: got %s, want 15", got)
	}
	if _, err := eng.Query(context.Background(), "SELEC nonsense"); err == nil {
		t.Fatal("bad SQL: got nil error")
	}
	if _, err := eng.Query(context.Background(), "INSERT INTO process_lineage_events (eid) VALUES ('x')"); err == nil {
		t.Fatal("insert into a table: got nil error")
	}
}

// The constraints a table receives must be the ones osqueryd would send.
func TestEnginePassesConstraints(t *testing.T) {
	var mu sync.Mutex
	var got []table.QueryContext
	tbl := Table{Schema: &schema.ProcessLineageEvents, Generate: func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
		mu.Lock()
		got = append(got, qc)
		mu.Unlock()
		return nil, nil
	}}
	eng, err := NewEngine(tbl)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.Query(context.Background(), "SELECT * FROM process_lineage_events WHERE time > 5 AND parent_name LIKE 'x%' AND pid = 7"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("generate calls: got %d, want 1", len(got))
	}
	want := map[string][]table.Constraint{
		"time": {{Operator: table.OperatorGreaterThan, Expression: "5"}},
		// SQLite adds the range it derives from LIKE, as it does in osqueryd.
		"parent_name": {{Operator: table.OperatorGreaterThanOrEquals, Expression: "X"}, {Operator: table.OperatorLessThan, Expression: "y"}, {Operator: table.OperatorLike, Expression: "x%"}},
		"pid":         {{Operator: table.OperatorEquals, Expression: "7"}},
	}
	for col, cs := range want {
		if !reflect.DeepEqual(got[0].Constraints[col].Constraints, cs) {
			t.Errorf("%s: got %+v, want %+v", col, got[0].Constraints[col].Constraints, cs)
		}
	}
}

func TestFilterFromContext(t *testing.T) {
	qc := table.QueryContext{Constraints: map[string]table.ConstraintList{
		"time":        {Constraints: []table.Constraint{{Operator: table.OperatorGreaterThanOrEquals, Expression: "10"}, {Operator: table.OperatorLessThan, Expression: "20"}}},
		"name":        {Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "cmd.exe"}, {Operator: table.OperatorEquals, Expression: "pwsh.exe"}}},
		"cmdline":     {Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "x"}}},
		"pid":         {Constraints: []table.Constraint{{Operator: table.OperatorGlob, Expression: "1*"}}},
		"parent_name": {Constraints: []table.Constraint{{Operator: table.OperatorGreaterThanOrEquals, Expression: "S"}, {Operator: table.OperatorLike, Expression: "s%"}}},
	}}
	f := FilterFromContext(qc)
	var got []string
	for _, c := range f.Constraints {
		got = append(got, fmt.Sprintf("%s %s %s%v", c.Column, c.Op, c.Value, c.Values))
	}
	want := []string{"name IN [cmd.exe pwsh.exe]", "parent_name LIKE s%[]", "time < 20[]", "time >= 10[]"}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBoundedTimesOutAndRecovers(t *testing.T) {
	slow := Bounded(func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond)
		return []map[string]string{{"late": "1"}}, nil
	}, 20*time.Millisecond)
	if _, err := slow(context.Background(), table.QueryContext{}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v, want a timeout error", err)
	}
	panicky := Bounded(func(context.Context, table.QueryContext) ([]map[string]string, error) { panic("boom") }, time.Second)
	if _, err := panicky(context.Background(), table.QueryContext{}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("got %v, want a panic error", err)
	}
}

func TestRowCap(t *testing.T) {
	s := newStore(t, 20)
	tbl := ProcessLineageEvents(s, 10)
	if _, err := tbl.Generate(context.Background(), table.QueryContext{}); err == nil || !strings.Contains(err.Error(), "more than 10 rows") {
		t.Fatalf("got %v, want the row cap error", err)
	}
	rows, err := tbl.Generate(context.Background(), table.QueryContext{Constraints: map[string]table.ConstraintList{
		"time": {Constraints: []table.Constraint{{Operator: table.OperatorLessThan, Expression: "1700000005"}}},
	}})
	if err != nil || len(rows) != 5 {
		t.Fatalf("narrowed: got %d rows, %v; want 5", len(rows), err)
	}
}

// The engine reads process_lineage_events by column position; it must
// answer exactly as it does from the maps osquery gets.
func TestEngineValuesMatchGenerate(t *testing.T) {
	s := newStore(t, 2000)
	byValues := ProcessLineageEvents(s, 0)
	byMaps := byValues
	byMaps.Values = nil
	engines := map[string]*Engine{}
	for name, tbl := range map[string]Table{"values": byValues, "maps": byMaps} {
		e, err := NewEngine(tbl)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		engines[name] = e
	}
	for _, q := range []string{
		"SELECT * FROM process_lineage_events",
		"SELECT eid, pid, parent_pid, signature_trusted FROM process_lineage_events WHERE time >= 1700000100 AND time < 1700000300",
		"SELECT count(*), sum(pid) FROM process_lineage_events WHERE parent_name LIKE 'screenconnect.service.exe'",
		"SELECT name, ancestry FROM process_lineage_events WHERE pid = 4007 OR name = 'cmd.exe' ORDER BY eid DESC LIMIT 5",
	} {
		t.Run(q, func(t *testing.T) {
			got, err := engines["values"].Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := engines["maps"].Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Rows) == 0 {
				t.Fatal("query returns no rows; the comparison would prove nothing")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d rows %v, want %d rows %v", len(got.Rows), head(got.Rows), len(want.Rows), head(want.Rows))
			}
		})
	}
}

func head(rows [][]string) [][]string { return rows[:min(len(rows), 2)] }
