//go:build !windows

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every query the project ships for hosts (sql/osquery, sql/packs) runs on
// the extension's tables, so a renamed column cannot silently break them.
// Queries that need osquery's own tables say so on their first line.
func TestShippedQueriesRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	run(t, "import", "--events-db", db, filepath.Join("..", "testdata", "fleet", "server-compromised.xml"))
	root := filepath.Join("..", "testdata", "screenconnect", "cve-2024-1709")
	query := func(t *testing.T, sql string) []string {
		t.Helper()
		out := strings.TrimSpace(run(t, "query", "--json", "--events-db", db, "--screenconnect-root", root, "--", sql))
		if out == "" {
			return nil
		}
		return strings.Split(out, "\n")
	}
	files, _ := filepath.Glob(filepath.Join("..", "sql", "osquery", "*.sql"))
	if len(files) == 0 {
		t.Fatal("no queries found in sql/osquery")
	}
	want := map[string]int{"screenconnect_server_children.sql": 2, "screenconnect_admins.sql": 2, "screenconnect_vulnerable_servers.sql": 1}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if strings.HasPrefix(string(b), "-- requires: osquery") {
			t.Logf("%s needs osquery's own tables; not run here", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			rows := query(t, string(b))
			if n, ok := want[name]; ok && len(rows) != n {
				t.Fatalf("got %d rows, want %d:\n%s", len(rows), n, strings.Join(rows, "\n"))
			}
		})
	}

	var pack struct {
		Queries map[string]struct {
			Query    string `json:"query"`
			Interval int    `json:"interval"`
		} `json:"queries"`
	}
	b, err := os.ReadFile(filepath.Join("..", "sql", "packs", "screenconnect.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pack); err != nil {
		t.Fatalf("pack is not valid JSON: %v", err)
	}
	for name, q := range pack.Queries {
		t.Run("pack/"+name, func(t *testing.T) {
			if q.Interval <= 0 {
				t.Fatalf("interval %d", q.Interval)
			}
			rows := query(t, q.Query)
			// The events were stored just now, inside the pack's 9 minutes.
			if name == "screenconnect_server_children" && len(rows) != 2 {
				t.Fatalf("got %d rows, want 2", len(rows))
			}
		})
	}
}
