package screenconnect

import (
	"context"
	"slices"
	"sort"
	"testing"

	"scsweep/extension/schema"
)

// TestRowsMatchSchema holds the rows to the declared tables: every row of
// every function has exactly the table's columns, so the table plugins can
// wrap the functions without a mapping, and every column is described.
func TestRowsMatchSchema(t *testing.T) {
	ctx := context.Background()
	fs := NewFirstSeen(openStore(t))
	funcs := map[string]func(Options) ([]map[string]string, error){
		"screenconnect_servers":     func(o Options) ([]map[string]string, error) { return Servers(ctx, o) },
		"screenconnect_users":       func(o Options) ([]map[string]string, error) { return Users(ctx, o, fs) },
		"screenconnect_extensions":  func(o Options) ([]map[string]string, error) { return Extensions(ctx, o) },
		"screenconnect_setup_files": func(o Options) ([]map[string]string, error) { return SetupFiles(ctx, o) },
	}
	for name, f := range funcs {
		t.Run(name, func(t *testing.T) {
			tbl, ok := schema.Lookup(name)
			if !ok {
				t.Fatalf("table %s is not registered", name)
			}
			for _, c := range tbl.Columns {
				if c.Description == "" {
					t.Errorf("column %s has no description", c.Name)
				}
			}
			want := tbl.ColumnNames()
			sort.Strings(want)
			var n int
			for _, tree := range []string{"clean-23.9.8", "cve-2024-1709", "cve-2024-1708", "client-only"} {
				opts, _ := treeOptions(t, tree)
				rows, err := f(opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					n++
					got := make([]string, 0, len(r))
					for k := range r {
						got = append(got, k)
					}
					sort.Strings(got)
					if !slices.Equal(got, want) {
						t.Fatalf("%s row columns: got %v, want %v", tree, got, want)
					}
				}
			}
			if n == 0 {
				t.Errorf("got no rows over the fixture trees, want some to check")
			}
		})
	}
}
