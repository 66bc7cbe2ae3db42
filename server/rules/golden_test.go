package rules

import (
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"scsweep/extension/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestAlertGolden pins the whole alert document built from our own rule and
// a process_lineage_events row.
func TestAlertGolden(t *testing.T) {
	r, err := Load("testdata/shell_from_service.toml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != time.Minute || r.MaxSignals != 10 || r.Extra["custom_setting"] == nil {
		t.Fatalf("got interval %v max_signals %d extra %v, want 1m, 10 and custom_setting kept", r.Interval, r.MaxSignals, r.Extra)
	}
	doc := schema.ProcessLineageEvents.ECSDocument(map[string]string{
		"eid": "sysmon-42", "time": "1767225600", "source": "sysmon", "pid": "4242", "name": "CMD.EXE",
		"path": `C:\Windows\System32\cmd.exe`, "cmdline": `cmd.exe /c whoami`, "username": `NT AUTHORITY\SYSTEM`,
		"user_sid": "S-1-5-18", "parent_pid": "100", "parent_name": "WebService.exe", "os_type": "windows",
		"pe_original_file_name": "Cmd.Exe", "signature_trusted": "1",
	})
	if !r.Match(doc) {
		t.Fatal("got no match, want the row to match the rule")
	}
	a := BuildAlert(r, "host-7", doc, time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC))
	got, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/alert_shell_from_service.golden"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with -update): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
