package screenconnect

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// openStore opens a real SQLite file in a temporary folder with the
// first-seen table created.
func openStore(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := InitFirstSeen(db); err != nil {
		t.Fatal(err)
	}
	return db
}

// treeOptions scans one fixture tree and nothing of the host.
func treeOptions(t testing.TB, tree string) (Options, string) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(fixtureRoot, tree))
	if err != nil {
		t.Fatal(err)
	}
	return Options{Roots: []string{abs}, OnlyRoots: true}, abs
}

// scanAll runs every table over a tree and renders the rows, with the tree's
// location, modification times and first-seen times masked.
func scanAll(t *testing.T, tree string) []byte {
	t.Helper()
	opts, abs := treeOptions(t, tree)
	ctx := context.Background()
	fs := NewFirstSeen(openStore(t))
	tables := []struct {
		name string
		scan func() ([]map[string]string, error)
	}{
		{"screenconnect_servers", func() ([]map[string]string, error) { return Servers(ctx, opts) }},
		{"screenconnect_users", func() ([]map[string]string, error) { return Users(ctx, opts, fs) }},
		{"screenconnect_extensions", func() ([]map[string]string, error) { return Extensions(ctx, opts) }},
		{"screenconnect_setup_files", func() ([]map[string]string, error) { return SetupFiles(ctx, opts) }},
	}
	var out bytes.Buffer
	for _, tb := range tables {
		rows, err := tb.scan()
		if err != nil {
			t.Fatalf("%s over %s: %v", tb.name, tree, err)
		}
		out.WriteString("# " + tb.name + "\n")
		for _, r := range rows {
			out.Write(maskRow(r, abs))
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func maskRow(r map[string]string, tree string) []byte {
	m := make(map[string]string, len(r))
	for k, v := range r {
		v = strings.ReplaceAll(v, tree, "$TREE")
		v = filepath.ToSlash(v)
		switch k {
		case "mtime", "file_mtime", "first_seen":
			if v != "" {
				v = "<set>"
			}
		}
		m[k] = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func TestGoldenTrees(t *testing.T) {
	for _, tree := range []string{"clean-23.9.8", "cve-2024-1709", "cve-2024-1708", "client-only"} {
		t.Run(tree, func(t *testing.T) {
			got := scanAll(t, tree)
			golden := filepath.Join("testdata", tree+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rows differ from %s (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestPlantedFilesExactly checks the promise of the tables on the compromised
// trees independently of the golden files: the suspicious rows name exactly
// the planted files, the added administrator is an administrator first seen
// at the scan, and the servers are vulnerable.
func TestPlantedFilesExactly(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		tree       string
		suspicious []string // relative_path of rows with a suspicion
		vulnerable string
	}{
		{"clean-23.9.8", nil, "0"},
		{"cve-2024-1709", nil, "1"},
		{"cve-2024-1708", []string{`7f3e9a10-5b2c-4d8e-9f01-a2b3c4d5e6f7/update.zip`, `..\..\payload.aspx`, "Scripts/cmd.aspx", "shell.ashx"}, "1"},
	}
	for _, c := range cases {
		t.Run(c.tree, func(t *testing.T) {
			opts, _ := treeOptions(t, c.tree)
			rows, err := Extensions(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if r["suspicion"] != "" {
					got = append(got, r["relative_path"])
				}
			}
			if strings.Join(got, "|") != strings.Join(c.suspicious, "|") {
				t.Errorf("suspicious rows: got %q, want %q", got, c.suspicious)
			}
			srv, err := Servers(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(srv) != 1 || srv[0]["role"] != "server" || srv[0]["vulnerable"] != c.vulnerable {
				t.Errorf("servers: got %v, want one server row with vulnerable=%s", srv, c.vulnerable)
			}
		})
	}

	t.Run("cve-2024-1709 admin first seen at the scan", func(t *testing.T) {
		opts, _ := treeOptions(t, "cve-2024-1709")
		fs := NewFirstSeen(openStore(t))
		scanAt := time.Date(2024, 2, 22, 9, 0, 0, 0, time.UTC)
		fs.Now = func() time.Time { return scanAt }
		rows, err := Users(ctx, opts, fs)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range rows {
			if r["name"] != "cloudadmin" {
				continue
			}
			found = true
			if r["is_admin"] != "1" || r["last_login"] != "" || r["first_seen"] != "1708592400" {
				t.Errorf("cloudadmin: got is_admin=%q last_login=%q first_seen=%q, want 1, \"\", 1708592400", r["is_admin"], r["last_login"], r["first_seen"])
			}
		}
		if !found {
			t.Errorf("got no row for cloudadmin in %v", rows)
		}
	})
}
