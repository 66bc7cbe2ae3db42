package rules

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"scsweep/extension/schema"
	"scsweep/extension/schema/peers"
	"scsweep/server/eql"
)

const screenConnectFile = "rules/initial_access_webshell_screenconnect_server.toml"

func TestLoadAllPeerRules(t *testing.T) {
	dir := filepath.Dir(peers.Path(t, screenConnectFile))
	rules, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(rules) != 19 {
		t.Fatalf("got %d rules, want 19", len(rules))
	}
	for _, r := range rules {
		if r.CompiledQuery() == nil || r.Interval <= 0 || r.Lookback <= 0 || r.MaxSignals <= 0 {
			t.Errorf("%s: got interval %v lookback %v max_signals %d, want all set", r.Name, r.Interval, r.Lookback, r.MaxSignals)
		}
		if r.CompiledQuery().Category() != "process" {
			t.Errorf("%s: got category %q, want process", r.Name, r.CompiledQuery().Category())
		}
		if _, err := eql.PushDown(r.CompiledQuery(), &schema.ProcessLineageEvents); err != nil {
			t.Errorf("%s: push-down: %v", r.Name, err)
		}
	}
}

func TestScreenConnectRuleFields(t *testing.T) {
	r, err := Load(peers.Path(t, screenConnectFile))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"rule_id", r.RuleID, "3d00feab-e203-4acc-a463-c3e15b7e9a73"},
		{"name", r.Name, "ScreenConnect Server Spawning Suspicious Processes"},
		{"type", r.Type, "eql"},
		{"interval (default)", r.Interval, 5 * time.Minute},
		{"from", r.From, "now-9m"},
		{"lookback", r.Lookback, 9 * time.Minute},
		{"max_signals (default)", r.MaxSignals, 100},
		{"risk_score", r.RiskScore, 73},
		{"severity", r.Severity, "high"},
		{"timestamp_override", r.TimestampOverride, "event.ingested"},
		{"investigate pivots", len(r.Investigate) > 0, true},
		{"note", strings.Contains(r.Note, "ScreenConnect"), true},
		{"metadata maturity", r.Metadata["maturity"], "production"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	sql, err := r.SQL(&schema.ProcessLineageEvents, time.Unix(1700000540, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sql, "SELECT * FROM process_lineage_events WHERE time >= 1700000000 AND time < 1700000540 AND (") ||
		!strings.Contains(sql, `"parent_name" LIKE 'ScreenConnect.Service.exe'`) {
		t.Errorf("SQL: got %s, want the 9m window and the parent-name filter", sql)
	}
	var techniques []string
	for _, th := range r.Threat {
		for _, te := range th.Technique {
			techniques = append(techniques, te.ID)
			for _, st := range te.Subtechnique {
				techniques = append(techniques, st.ID)
			}
		}
	}
	for _, want := range []string{"T1190", "T1059.001", "T1059.003", "T1505.003"} {
		found := false
		for _, g := range techniques {
			found = found || g == want
		}
		if !found {
			t.Errorf("threat: got techniques %v, want %s among them", techniques, want)
		}
	}
}

// row is a process_lineage_events row as a host returns it.
func row(name, parent, original string) map[string]string {
	return map[string]string{
		"eid": "e-1", "time": "1700000000", "name": name, "parent_name": parent,
		"pe_original_file_name": original, "username": "SYSTEM", "os_type": "windows",
		"path": `C:\Windows\System32\` + name, "cmdline": name + " /c whoami",
	}
}

func TestScreenConnectRuleEvaluates(t *testing.T) {
	r, err := Load(peers.Path(t, screenConnectFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		row  map[string]string
		want bool
	}{
		{"cmd under the server service", row("cmd.exe", "ScreenConnect.Service.exe", "Cmd.Exe"), true},
		{"name case differs (: folds case)", row("CMD.EXE", "screenconnect.service.exe", ""), true},
		{"renamed powershell by original name", row("notepad2.exe", "ScreenConnect.Service.exe", "PowerShell.EXE"), true},
		{"original name in other case (in is exact)", row("notepad2.exe", "ScreenConnect.Service.exe", "powershell.exe"), false},
		{"client service parent", row("cmd.exe", "ScreenConnect.ClientService.exe", "Cmd.Exe"), false},
		{"harmless child", row("conhost.exe", "ScreenConnect.Service.exe", "CONHOST.EXE"), false},
		{"missing original name", row("csc.exe", "ScreenConnect.Service.exe", ""), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := schema.ProcessLineageEvents.ECSDocument(c.row)
			if got := r.Match(doc); got != c.want {
				t.Errorf("got match %v, want %v for %v", got, c.want, c.row)
			}
		})
	}
}

// TestPeerRulesOverTelemetry runs every rule over the real ECS documents of
// the telemetry folder: no rule may fail on real shapes, and the documents
// of process starts must satisfy the category test.
func TestPeerRulesOverTelemetry(t *testing.T) {
	dir := filepath.Dir(peers.Path(t, screenConnectFile))
	rules, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tele := filepath.Join(filepath.Dir(dir), "telemetry")
	files, _ := filepath.Glob(filepath.Join(tele, "*", "*expected*.json"))
	if len(files) == 0 {
		t.Skip("no telemetry documents in the reference material")
	}
	docs := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var exp struct {
			Expected []map[string]any `json:"expected"`
		}
		if err := json.Unmarshal(data, &exp); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range exp.Expected {
			docs++
			for _, r := range rules {
				r.Match(d)
			}
		}
	}
	if docs == 0 {
		t.Fatal("got 0 telemetry documents, want some")
	}
}

func TestParseDefaultsAndRefusals(t *testing.T) {
	base := `[metadata]
maturity = "production"
[rule]
rule_id = "r-1"
name = "Test rule"
description = "d"
risk_score = 21
severity = "low"
type = "eql"
language = "eql"
future_key = "kept"
query = '''
process where process.name : "x.exe"
'''
`
	r, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != DefaultInterval || r.From != "now-6m" || r.Lookback != 6*time.Minute || r.MaxSignals != 100 {
		t.Errorf("defaults: got interval %v from %s lookback %v max %d, want 5m now-6m 6m 100", r.Interval, r.From, r.Lookback, r.MaxSignals)
	}
	if r.Extra["future_key"] != "kept" {
		t.Errorf("unknown key: got %v, want kept", r.Extra)
	}
	cases := []struct {
		name, from, to string
		refused        bool
		errHas         string
	}{
		{"kuery rule", `type = "eql"`, `type = "query"`, true, `"Test rule" (r-1): type "query" is not eql`},
		{"sequence", `process where process.name : "x.exe"`, `sequence [process where true] [file where true]`, true, "not a single-event query"},
		{"parse error", `process where process.name : "x.exe"`, `process where process.name = "x"`, false, "1:28"},
		{"bad interval", `future_key = "kept"`, `interval = "5 minutes"`, false, "interval"},
		{"bad from", `future_key = "kept"`, `from = "yesterday"`, false, "from"},
		{"missing rule_id", `rule_id = "r-1"`, ``, false, "missing rule_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(base, c.from, c.to, 1)))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", c.errHas)
			}
			if !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("got error %q, want it to contain %q", err, c.errHas)
			}
			if errors.Is(err, ErrRefused) != c.refused {
				t.Errorf("got refused=%v, want %v (%v)", errors.Is(err, ErrRefused), c.refused, err)
			}
		})
	}
}

func TestAlertID(t *testing.T) {
	id := AlertID("host-1", "e-1", "rule-1")
	if id != AlertID("host-1", "e-1", "rule-1") {
		t.Error("got different ids for the same triple, want the same")
	}
	if len(id) != 64 {
		t.Errorf("got id length %d, want 64 hex digits", len(id))
	}
	pairs := [][2][3]string{
		{{"ab", "c", "r"}, {"a", "bc", "r"}},
		{{"a", "", "bc"}, {"a", "b", "c"}},
		{{"h", "e", "r"}, {"h", "e", "r2"}},
	}
	for _, p := range pairs {
		a := AlertID(p[0][0], p[0][1], p[0][2])
		b := AlertID(p[1][0], p[1][1], p[1][2])
		if a == b {
			t.Errorf("got the same id for %v and %v, want different", p[0], p[1])
		}
	}
}

func TestBuildAlert(t *testing.T) {
	r, err := Load(peers.Path(t, screenConnectFile))
	if err != nil {
		t.Fatal(err)
	}
	doc := schema.ProcessLineageEvents.ECSDocument(row("cmd.exe", "ScreenConnect.Service.exe", "Cmd.Exe"))
	doc["host"].(map[string]any)["name"] = "HOST"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := BuildAlert(r, "host-id-1", doc, now)
	want := map[string]any{
		"kibana.alert.uuid":                    AlertID("host-id-1", "e-1", r.RuleID),
		"kibana.alert.rule.rule_id":            r.RuleID,
		"kibana.alert.rule.name":               r.Name,
		"kibana.alert.severity":                "high",
		"kibana.alert.risk_score":              73,
		"kibana.alert.workflow_status":         "open",
		"kibana.alert.original_time":           "2023-11-14T22:13:20Z",
		"@timestamp":                           "2026-01-02T03:04:05Z",
		"kibana.alert.reason":                  "process event with process cmd.exe, parent process ScreenConnect.Service.exe, by SYSTEM on HOST created high alert ScreenConnect Server Spawning Suspicious Processes.",
		"kibana.alert.original_event.category": "process",
	}
	for k, v := range want {
		if !reflect.DeepEqual(a[k], v) {
			t.Errorf("%s: got %v, want %v", k, a[k], v)
		}
	}
	if a.ID() != want["kibana.alert.uuid"] {
		t.Errorf("ID(): got %s, want %s", a.ID(), want["kibana.alert.uuid"])
	}
	if got := a["host"].(map[string]any)["id"]; got != "host-id-1" {
		t.Errorf("host.id: got %v, want host-id-1", got)
	}
	if got := a["process"].(map[string]any)["name"]; got != "cmd.exe" {
		t.Errorf("process.name: got %v, want the event's cmd.exe", got)
	}
	if th, ok := a["kibana.alert.rule.threat"].([]Threat); !ok || len(th) == 0 {
		t.Errorf("threat: got %v, want the rule's MITRE entries", a["kibana.alert.rule.threat"])
	}
	if _, ok := doc["kibana.alert.uuid"]; ok {
		t.Error("the source event was modified, want it untouched")
	}
	if doc["event"].(map[string]any)["kind"] != "event" {
		t.Errorf("source event.kind: got %v, want event (the alert's copy becomes signal)", doc["event"].(map[string]any)["kind"])
	}
	if _, err := json.Marshal(a); err != nil {
		t.Errorf("alert does not marshal: %v", err)
	}
}
