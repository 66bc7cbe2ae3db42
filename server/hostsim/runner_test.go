package hostsim

import (
	"context"
	"path/filepath"
	"testing"
)

func TestSQLiteRunnerReturnsStrings(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	if err := WriteProcessDB(db, "h", 20); err != nil {
		t.Fatal(err)
	}
	rows, err := SQLiteRunner(db)(context.Background(), ruleSQL+" ORDER BY time")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2 (every tenth of 20)", len(rows))
	}
	if got, want := rows[1]["eid"], "h-10"; got != want {
		t.Errorf("got eid %q, want %q", got, want)
	}
	if got, want := rows[1]["time"], "1767225610"; got != want {
		t.Errorf("got time %q, want %q (integers as osquery returns them: text)", got, want)
	}
	if _, err := SQLiteRunner(db)(context.Background(), "DELETE FROM process_lineage_events"); err == nil {
		t.Errorf("got nil error for a write, want the read-only open to refuse it")
	}
}

func BenchmarkSQLiteRunner(b *testing.B) {
	db := filepath.Join(b.TempDir(), "events.db")
	if err := WriteProcessDB(db, "h", 50); err != nil {
		b.Fatal(err)
	}
	run := SQLiteRunner(db)
	for b.Loop() {
		if _, err := run(context.Background(), ruleSQL); err != nil {
			b.Fatal(err)
		}
	}
}
