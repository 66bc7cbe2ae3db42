//go:build !windows

package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Under osqueryd the agent runs the sweeper's SQL through osqueryd's Query
// call, with a fresh client each time; an osquery error is the query's error.
func TestOsqueryRunner(t *testing.T) {
	sock := filepath.Join(shortDir(t), "osquery.em")
	f := startFakeOsqueryd(t, sock)
	f.answer(func(sql string) ([]map[string]string, error) {
		if strings.Contains(sql, "nope") {
			return nil, errors.New("no such table: nope")
		}
		return []map[string]string{{"sql": sql}}, nil
	})
	run := osqueryRunner(sock, 3*time.Second)
	for i := 0; i < 3; i++ {
		rows, err := run(context.Background(), "SELECT 1")
		if err != nil || len(rows) != 1 || rows[0]["sql"] != "SELECT 1" {
			t.Fatalf("query %d: got %v, %v", i, rows, err)
		}
	}
	if _, err := run(context.Background(), "SELECT * FROM nope"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("failing query: got %v, want osquery's error", err)
	}
	f.mu.Lock()
	n := f.queries
	f.mu.Unlock()
	if n != 4 {
		t.Fatalf("osqueryd saw %d queries, want 4", n)
	}
}
