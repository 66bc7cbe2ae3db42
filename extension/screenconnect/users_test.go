package screenconnect

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsersFaultsBecomeRows(t *testing.T) {
	cases := []struct {
		name      string
		files     map[string]string
		opts      Options
		wantNames []string // name column per row, in order
		wantErr   []string // substring of the error column per row ("" = none)
	}{
		{
			name:      "malformed after one user",
			files:     map[string]string{"App_Data/User.xml": `<Users><User><Name>a</Name><Roles><Role>Administrator</Role></Roles></User><User><Name>b`},
			wantNames: []string{"a", ""},
			wantErr:   []string{"", "unexpected EOF"},
		},
		{
			name:      "over the size limit",
			files:     map[string]string{"App_Data/User.xml": `<Users><User><Name>` + strings.Repeat("x", 200) + `</Name></User></Users>`},
			opts:      Options{MaxXMLSize: 100},
			wantNames: []string{""},
			wantErr:   []string{"over the 100 byte limit"},
		},
		{
			name:      "doctype refused",
			files:     map[string]string{"App_Data/User.xml": `<!DOCTYPE Users [<!ENTITY a "a">]><Users/>`},
			wantNames: []string{""},
			wantErr:   []string{"document type declarations are not allowed"},
		},
		{
			name: "both file names, any case",
			files: map[string]string{
				"app_data/user.XML":  `<Users><User><Name>one</Name></User></Users>`,
				"app_data/USERS.xml": `<Users><User><Name>two</Name></User></Users>`,
			},
			wantNames: []string{"one", "two"},
			wantErr:   []string{"", ""},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := serverTree(t, c.files)
			c.opts.Roots, c.opts.OnlyRoots = []string{dir}, true
			rows, err := Users(context.Background(), c.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(c.wantNames) {
				t.Fatalf("got %d rows %v, want %d", len(rows), rows, len(c.wantNames))
			}
			for i, r := range rows {
				if r["name"] != c.wantNames[i] {
					t.Errorf("row %d name: got %q, want %q", i, r["name"], c.wantNames[i])
				}
				if (c.wantErr[i] == "") != (r["error"] == "") || !strings.Contains(r["error"], c.wantErr[i]) {
					t.Errorf("row %d error: got %q, want %q", i, r["error"], c.wantErr[i])
				}
				if r["first_seen"] != "" {
					t.Errorf("row %d first_seen: got %q, want empty without a store", i, r["first_seen"])
				}
				if r["file_mtime"] == "" || filepath.Dir(filepath.Dir(r["path"])) != dir {
					t.Errorf("row %d: got file_mtime=%q path=%q, want the file's mtime and a path under %s", i, r["file_mtime"], r["path"], dir)
				}
			}
		})
	}
}
