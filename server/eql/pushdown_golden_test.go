package eql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ScreenConnect rule's query as DESIGN.md states it (our own copy of the
// condition, for the push-down golden file).
const screenConnectQuery = `process where host.os.type == "windows" and event.type == "start" and
process.parent.name : "ScreenConnect.Service.exe" and
(process.name : ("cmd.exe", "powershell.exe", "pwsh.exe", "powershell_ise.exe", "csc.exe") or
?process.pe.original_file_name in ("Cmd.Exe", "PowerShell.EXE", "pwsh.dll", "powershell_ise.EXE", "csc.exe"))`

func TestPushDownGolden(t *testing.T) {
	cases := []struct{ name, query string }{
		{"screenconnect", screenConnectQuery},
		{"other_category", `file where file.name : "x"`},
		{"negated_wildcard", `process where not process.name : ("*.tmp", "a_b%")`},
		{"numeric_and_null", `any where process.pid >= 4 and process.parent.pid != null and ?process.code_signature.trusted == false`},
		{"unknown_field_and_regex", `process where user.domain == "NT AUTHORITY" or process.command_line regex~ ".*-enc.*"`},
		{"non_ascii_pattern", `process where process.name : "straße*" or process.name in~ ("É.exe")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Compile(c.query, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := WindowSQL(q, table, 1700000000, 1700000540)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "pushdown_"+c.name+".golden"), got+"\n")
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.TrimSpace(got), strings.TrimSpace(string(want)))
	}
}
