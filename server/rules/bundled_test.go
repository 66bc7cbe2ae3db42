package rules

import (
	"testing"
	"time"

	"scsweep/extension/schema/peers"
)

func TestBundledScreenConnectRule(t *testing.T) {
	rs, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d bundled rules, want 1", len(rs))
	}
	r := rs[0]
	if r.RuleID != "3d00feab-e203-4acc-a463-c3e15b7e9a73" || r.Severity != "high" || r.RiskScore != 73 ||
		r.Interval != 5*time.Minute || r.Lookback != 9*time.Minute || r.MaxSignals != 100 {
		t.Fatalf("bundled rule settings: got %s %s %d %s %s %d", r.RuleID, r.Severity, r.RiskScore, r.Interval, r.Lookback, r.MaxSignals)
	}
	for _, tc := range bundledCases() {
		if got := r.Match(tc.ev); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The bundled rule must say what Elastic's says wherever detection depends
// on it; compared with the real rule when the reference material is there.
func TestBundledRuleMatchesElastic(t *testing.T) {
	elastic, err := Load(peers.Path(t, "rules/initial_access_webshell_screenconnect_server.toml"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	ours := rs[0]
	if ours.RuleID != elastic.RuleID || ours.Severity != elastic.Severity || ours.RiskScore != elastic.RiskScore ||
		ours.Interval != elastic.Interval || ours.Lookback != elastic.Lookback || ours.MaxSignals != elastic.MaxSignals ||
		ours.TimestampOverride != elastic.TimestampOverride {
		t.Fatalf("settings differ from Elastic's rule")
	}
	for _, tc := range bundledCases() {
		if ours.Match(tc.ev) != elastic.Match(tc.ev) {
			t.Errorf("%s: bundled rule says %v, Elastic's says %v", tc.name, ours.Match(tc.ev), elastic.Match(tc.ev))
		}
	}
}

type bundledCase struct {
	name string
	ev   map[string]any
	want bool
}

func bundledCases() []bundledCase {
	doc := func(parent, name, ofn string) map[string]any {
		p := map[string]any{"name": name, "parent": map[string]any{"name": parent}}
		if ofn != "" {
			p["pe"] = map[string]any{"original_file_name": ofn}
		}
		return map[string]any{"event": map[string]any{"category": "process", "type": "start"},
			"host": map[string]any{"os": map[string]any{"type": "windows"}}, "process": p}
	}
	return []bundledCase{
		{"server spawns cmd", doc("ScreenConnect.Service.exe", "cmd.exe", ""), true},
		{"case-insensitive names", doc("screenconnect.service.EXE", "PowerShell.exe", ""), true},
		{"renamed PowerShell by original file name", doc("ScreenConnect.Service.exe", "notepad.exe", "PowerShell.EXE"), true},
		{"original file name is case-sensitive", doc("ScreenConnect.Service.exe", "notepad.exe", "powershell.exe"), false},
		{"client service is not the server", doc("ScreenConnect.ClientService.exe", "cmd.exe", "Cmd.Exe"), false},
		{"benign child", doc("ScreenConnect.Service.exe", "conhost.exe", "CONHOST.EXE"), false},
	}
}
