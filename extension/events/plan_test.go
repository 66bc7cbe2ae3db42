package events

import (
	"context"
	"strings"
	"testing"
)

// Every lookup the store makes per event or per query must be served by an
// index: a full scan here costs a second per lookup on a host's store.
func TestQueriesUseIndexes(t *testing.T) {
	s, _ := openTemp(t, Options{MaxAge: -1, MaxBytes: -1})
	ctx := context.Background()
	tests := []struct {
		name, query string
		args        []any
		wantIndex   string
	}{
		{"ByEntityID", byEntityIDSQL, []any{"{A}"}, "events_entity"},
		{"LatestStart", latestStartSQL, []any{1, 2}, "events_pid_time"},
		{"StartsAfter", startsAfterSQL, []any{1, 2, 3}, "events_pid_time"},
		{"time window", "SELECT row FROM events WHERE time >= ? AND time < ? ORDER BY time, seq", []any{1, 2}, "events_time"},
		{"eid", "SELECT row FROM events WHERE eid = ? ORDER BY time, seq", []any{"x"}, "events_eid"},
		{"prune by age", "SELECT seq FROM events WHERE stored < ?", []any{1}, "events_stored"},
		{"parent name", "SELECT row FROM events WHERE parent_name COLLATE NOCASE = ? ORDER BY time, seq", []any{"x"}, "events_parent_name"},
		{"name IN", "SELECT row FROM events WHERE name COLLATE NOCASE IN (?, ?) ORDER BY time, seq", []any{"x", "y"}, "events_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "INDEX "+tt.wantIndex) {
				t.Fatalf("plan: got %q, want a search using %s", got, tt.wantIndex)
			}
		})
	}
}
