//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
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

func gunzipTo(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// An imported start whose record lacks the image's identity gets it from
// the file on this host; what the record carries is kept.
func TestImportEnrichesFromImageOnDisk(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "notepad.exe")
	gunzipTo(t, filepath.Join("..", "testdata", "pe", "notepad.exe.gz"), img)
	roots, _ := filepath.Abs(filepath.Join("..", "testdata", "pe", "roots.pem"))
	cfg := filepath.Join(dir, "scsweep.conf")
	os.WriteFile(cfg, []byte(`{"roots_pem": `+strconv.Quote(roots)+`}`), 0o600)
	records := filepath.Join(dir, "starts.ndjson")
	doc := func(id, sha string) string {
		hash := ""
		if sha != "" {
			hash = `,"hash":{"sha256":"` + sha + `"}`
		}
		return `{"@timestamp":"2024-02-21T14:05:02Z","event":{"category":["process"],"type":["start"],"id":"` + id + `"},` +
			`"host":{"os":{"type":"windows"}},"process":{"pid":5540,"entity_id":"` + id + `","name":"notepad.exe","executable":` + strconv.Quote(img) + hash +
			`,"parent":{"name":"ScreenConnect.Service.exe","pid":2816}}}` + "\n"
	}
	os.WriteFile(records, []byte(doc("a", "")), 0o600)
	db := filepath.Join(dir, "events.db")
	run(t, "import", "--config", cfg, "--events-db", db, records)
	out := run(t, "query", "--json", "--config", cfg, "--events-db", db,
		"SELECT pe_original_file_name, pe_company, sha256, signature_status, signature_trusted FROM process_lineage_events")
	var row map[string]string
	if err := json.Unmarshal([]byte(out), &row); err != nil {
		t.Fatalf("query output %q: %v", out, err)
	}
	if row["pe_original_file_name"] != "PowerShell.EXE" || row["signature_status"] != "trusted" || row["signature_trusted"] != "1" || len(row["sha256"]) != 64 {
		t.Fatalf("enriched row: got %v, want the renamed PowerShell's identity, trusted", row)
	}
}
