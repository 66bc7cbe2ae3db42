//go:build !windows

package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// volatile columns change with every checkout or run; their presence is
// kept, their value masked.
var volatile = map[string]bool{"mtime": true, "file_mtime": true, "first_seen": true}

// Every ScreenConnect table on every fixture tree, through the real binary's
// query command, against reviewed golden output.
func TestGoldenScreenConnectTables(t *testing.T) {
	trees, err := filepath.Glob(filepath.Join("..", "testdata", "screenconnect", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tree := range trees {
		if st, err := os.Stat(tree); err != nil || !st.IsDir() {
			continue
		}
		for _, table := range []string{"screenconnect_servers", "screenconnect_users", "screenconnect_extensions", "screenconnect_setup_files"} {
			name := filepath.Base(tree) + "." + table
			t.Run(name, func(t *testing.T) {
				db := filepath.Join(t.TempDir(), "events.db")
				out := run(t, "query", "--json", "--events-db", db, "--screenconnect-root", tree,
					"SELECT * FROM "+table+" ORDER BY 1, 2, 3")
				got := maskRows(t, out)
				golden := filepath.Join("testdata", "golden", name+".golden")
				if *update {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./extension -run Golden -update)", err)
				}
				if got != string(want) {
					t.Fatalf("%s differs from golden:\n got:\n%s\nwant:\n%s", name, got, want)
				}
			})
		}
	}
}

func maskRows(t *testing.T, ndjson string) string {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(ndjson))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		for k, v := range row {
			if volatile[k] && v != "" {
				row[k] = "<masked>"
			}
		}
		line, _ := json.Marshal(row) // sorted keys: stable and diffable
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// The acceptance check: the suspicious rows name exactly the
// planted files, and the added admin shows as an admin first seen now.
func TestPlantedArtifactsThroughQuery(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	tree := filepath.Join("..", "testdata", "screenconnect", "cve-2024-1708")
	out := run(t, "query", "--json", "--events-db", db, "--screenconnect-root", tree,
		"SELECT relative_path FROM screenconnect_extensions WHERE suspicion != '' ORDER BY relative_path")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]string
		json.Unmarshal([]byte(line), &r)
		got = append(got, r["relative_path"])
	}
	want := []string{"..\\..\\payload.aspx", "7f3e9a10-5b2c-4d8e-9f01-a2b3c4d5e6f7/update.zip", "Scripts/cmd.aspx", "shell.ashx"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("suspicious files: got %q, want %q", got, want)
	}

	tree = filepath.Join("..", "testdata", "screenconnect", "cve-2024-1709")
	before := run(t, "query", "--json", "--events-db", db, "--screenconnect-root", tree,
		"SELECT name, is_admin, first_seen, strftime('%s','now') - first_seen < 600 AS fresh FROM screenconnect_users WHERE name = 'cloudadmin'")
	var r map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(before)), &r); err != nil {
		t.Fatalf("users output %q: %v", before, err)
	}
	if r["is_admin"] != "1" || r["fresh"] != "1" {
		t.Fatalf("added admin: got %v, want is_admin 1 first seen at this scan", r)
	}
	// A later scan keeps the first-seen time.
	after := run(t, "query", "--json", "--events-db", db, "--screenconnect-root", tree,
		"SELECT first_seen FROM screenconnect_users WHERE name = 'cloudadmin'")
	if !strings.Contains(after, `"first_seen":"`+r["first_seen"]+`"`) {
		t.Fatalf("second scan changed first_seen: %s, first was %s", after, r["first_seen"])
	}
}
