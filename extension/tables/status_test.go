package tables

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/events"
	"scsweep/extension/live"
)

func TestStatusRows(t *testing.T) {
	s := newStore(t, 20) // 20 sysmon events, times 1_700_000_000..
	imported := fakeEvent(100)
	imported.EID, imported.Source = "cs1", "crowdstrike"
	if _, err := s.Insert(context.Background(), []*events.Event{imported}); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_500, 0)
	sources := func() []live.Status {
		return []live.Status{
			{Source: "sysmon", Active: true, Reason: "subscribed", Events: 20, Skipped: 1, LastAt: at},
			{Source: "security", Reason: "Audit Process Creation is off: Windows writes no 4688"},
			{Source: "etw", Reason: "not needed: the Event Log has process starts"},
		}
	}
	rows, err := Status(s, sources).Generate(context.Background(), table.QueryContext{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows: got %d, want 3", len(rows))
	}
	want := []map[string]string{
		{"source": "sysmon", "active": "1", "collected": "20", "skipped": "1", "last_write": "1700000500"},
		{"source": "security", "active": "0", "reason": "Audit Process Creation is off: Windows writes no 4688", "last_write": ""},
		{"source": "etw", "active": "0", "reason": "not needed: the Event Log has process starts"},
	}
	for i, w := range want {
		for k, v := range w {
			if rows[i][k] != v {
				t.Errorf("row %d %s: got %q, want %q", i, k, rows[i][k], v)
			}
		}
		if rows[i]["store_events"] != "21" || rows[i]["store_oldest"] != "1700000000" {
			t.Errorf("row %d store: got %s events, oldest %s; want 21, 1700000000", i, rows[i]["store_events"], rows[i]["store_oldest"])
		}
		if n, _ := strconv.ParseInt(rows[i]["store_bytes"], 10, 64); n <= 0 {
			t.Errorf("row %d store_bytes: got %q, want > 0", i, rows[i]["store_bytes"])
		}
	}
	for _, r := range rows {
		for _, c := range Status(s, nil).Schema.ColumnNames() {
			if _, ok := r[c]; !ok {
				t.Errorf("row %s lacks column %s", r["source"], c)
			}
		}
	}
}

// Outside serve, the live sources are listed as not collected, with why.
func TestStatusWithoutLiveCollection(t *testing.T) {
	for _, src := range []func() []live.Status{nil, func() []live.Status { return nil }} {
		rows, err := Status(nil, src).Generate(context.Background(), table.QueryContext{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 {
			t.Fatalf("rows: got %d, want 3", len(rows))
		}
		for _, r := range rows {
			if r["active"] != "0" || r["reason"] != NotCollecting || r["store_events"] != "0" {
				t.Errorf("row %s: got active %s reason %q store_events %s", r["source"], r["active"], r["reason"], r["store_events"])
			}
		}
	}
}

// BenchmarkStatus reads the facts of a store of 100,000 events.
func BenchmarkStatus(b *testing.B) {
	s := newStore(b, 100_000)
	tb := Status(s, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tb.Generate(context.Background(), table.QueryContext{}); err != nil {
			b.Fatal(err)
		}
	}
}
