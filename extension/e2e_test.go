//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(extBinary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("scsweep.ext %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// The first hunt of the rule on a compromised server's Sysmon log, as
// Windows writes it: import, query standalone, and the same rows through
// osqueryd's thrift path.
func TestImportQueryAndThriftAgree(t *testing.T) {
	db := filepath.Join(t.TempDir(), "events.db")
	fixture := filepath.Join("..", "testdata", "telemetry", "sysmon-xml", "wevtutil-screenconnect.xml")
	summary := run(t, "import", "--events-db", db, fixture)
	if !strings.Contains(summary, "6 records: 4 imported, 0 already in the store, 2 skipped") {
		t.Fatalf("import summary:\n%s", summary)
	}
	again := run(t, "import", "--events-db", db, fixture)
	if !strings.Contains(again, "0 imported, 4 already in the store") {
		t.Fatalf("re-import summary:\n%s", again)
	}

	out := run(t, "query", "--json", "--events-db", db,
		"SELECT * FROM process_lineage_events WHERE parent_name LIKE 'screenconnect.service.exe' ORDER BY eid")
	var viaQuery []map[string]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("query output line %q: %v", sc.Text(), err)
		}
		viaQuery = append(viaQuery, row)
	}
	if len(viaQuery) != 2 {
		t.Fatalf("query: got %d rows, want 2 (cmd.exe and the renamed PowerShell)\n%s", len(viaQuery), out)
	}
	var cmd map[string]string
	for _, r := range viaQuery {
		if r["name"] == "cmd.exe" {
			cmd = r
		}
	}
	want := map[string]string{
		"parent_name":           "ScreenConnect.Service.exe",
		"parent_path":           `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`,
		"parent_pid":            "2816",
		"pe_original_file_name": "Cmd.Exe",
		"os_type":               "windows",
		"source":                "sysmon",
	}
	for k, v := range want {
		if cmd[k] != v {
			t.Errorf("cmd.exe row %s: got %q, want %q", k, cmd[k], v)
		}
	}

	ext, _ := startExtension(t, filepath.Join(shortDir(t), "osquery.em"), db)
	viaThrift := ext.generate(t, "process_lineage_events",
		constraintContext(map[string][][2]string{"parent_name": {{"65", "screenconnect.service.exe"}}}))
	sort.Slice(viaThrift, func(i, j int) bool { return viaThrift[i]["eid"] < viaThrift[j]["eid"] })
	if !reflect.DeepEqual(viaThrift, viaQuery) {
		t.Fatalf("thrift rows differ from standalone rows:\n thrift %v\n  query %v", viaThrift, viaQuery)
	}
}
