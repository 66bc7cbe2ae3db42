package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scsweep/extension/schema/peers"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const ndjson = `{"@timestamp":"2026-01-01T00:00:03Z","event":{"category":"process","id":"c"},"process":{"name":"CMD.exe"}}
{"@timestamp":"2026-01-01T00:00:01Z","event":{"category":"process","id":"a"},"process":{"name":"cmd.exe"}}

{"@timestamp":"2026-01-01T00:00:02Z","event.category":"process","event.id":"b","process.name":"notepad.exe"}
{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"file","id":"f"},"process":{"name":"cmd.exe"}}
`

func TestEQLCommand(t *testing.T) {
	events := writeFile(t, "events.ndjson", ndjson)
	array := writeFile(t, "events.json", "["+strings.Join(strings.Fields(strings.ReplaceAll(ndjson, "\n\n", "\n")), ",")+"]")
	rule := writeFile(t, "rule.toml", `[rule]
rule_id = "r-1"
name = "Cmd started"
description = "d"
risk_score = 21
severity = "low"
type = "eql"
language = "eql"
query = 'process where process.name : "cmd.exe"'
`)
	seq := writeFile(t, "seq.toml", `[rule]
rule_id = "r-2"
name = "Sequence rule"
type = "eql"
query = 'sequence [process where true] [file where true]'
`)
	cases := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		out    string
		errHas string
	}{
		{"query ids in time order", []string{"--query", `process where process.name : "cmd.exe"`, "--ids", "event.id", events}, "", 0, "a\nc\n", ""},
		{"json array input", []string{"--query", `process where process.name : "cmd.exe"`, "--ids", "event.id", array}, "", 0, "a\nc\n", ""},
		{"stdin and flat keys", []string{"--query", `any where process.name == "notepad.exe"`, "--ids", "event.id"}, ndjson, 0, "b\n", ""},
		{"case-sensitive ==", []string{"--query", `process where process.name == "cmd.exe"`, "--ids", "event.id", events}, "", 0, "a\n", ""},
		{"tail pipe", []string{"--query", `any where true | tail 2`, "--ids", "event.id", events}, "", 0, "b\nc\n", ""},
		{"whole events", []string{"--query", `file where true`, events}, "", 0, `{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":"file","id":"f"},"process":{"name":"cmd.exe"}}` + "\n", ""},
		{"rule file", []string{"--rule", rule, "--ids", "event.id", events}, "", 0, "a\nc\n", ""},
		{"category field", []string{"--query", `file where true`, "--category-field", "process.name", "--ids", "event.id", events}, "", 0, "", ""},
		{"parse error says where", []string{"--query", "process where\n process.name = \"x\"", events}, "", 2, "", "2:15"},
		{"sequence refused", []string{"--query", "sequence [process where true]", events}, "", 2, "", "not supported"},
		{"unsupported rule refused by name", []string{"--rule", seq, events}, "", 2, "", `"Sequence rule"`},
		{"no query", []string{events}, "", 2, "", "exactly one of --query and --rule"},
		{"bad input", []string{"--query", "any where true"}, "{\"a\":1}\n[1]\n", 1, "", "stdin: event 2"},
		{"missing file", []string{"--query", "any where true", filepath.Join(t.TempDir(), "nope.json")}, "", 1, "", "no such file"},
		{"sql", []string{"--sql", "--query", `process where process.name == "cmd.exe"`}, "", 0, "SELECT * FROM process_lineage_events WHERE (\"name\" = 'cmd.exe')\n", ""},
		{"sql window", []string{"--sql", "--rule", rule, "--from", "100", "--to", "200"}, "", 0, "SELECT * FROM process_lineage_events WHERE time >= 100 AND time < 200 AND (((\"name\" <> '') AND ((\"name\" LIKE 'cmd.exe' ESCAPE '\\') OR (length(CAST(\"name\" AS BLOB)) <> length(\"name\")))))\n", ""},
		{"sql half window", []string{"--sql", "--query", "any where true", "--from", "100"}, "", 2, "", "both --from and --to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdin = strings.NewReader(c.stdin)
			defer func() { stdin = os.Stdin }()
			var out, errOut bytes.Buffer
			code := dispatch(append([]string{"eql"}, c.args...), &out, &errOut)
			if code != c.code {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, c.code, errOut.String())
			}
			if c.code == 0 && out.String() != c.out {
				t.Errorf("got output\n%q\nwant\n%q", out.String(), c.out)
			}
			if c.errHas != "" && !strings.Contains(errOut.String(), c.errHas) {
				t.Errorf("got stderr %q, want it to contain %q", errOut.String(), c.errHas)
			}
		})
	}
}

func TestEQLCommandSpecSuite(t *testing.T) {
	data := peers.Path(t, "eql/elasticsearch/test_data.json")
	var out, errOut bytes.Buffer
	code := dispatch([]string{"eql", "--query", "process where serial_event_id < 4 | tail 2", "--category-field", "event_type",
		"--timestamp-field", "timestamp", "--tiebreaker-field", "serial_event_id", "--ids", "serial_event_id", data}, &out, &errOut)
	if code != 0 {
		t.Fatalf("got exit %d, want 0: %s", code, errOut.String())
	}
	if out.String() != "2\n3\n" {
		t.Errorf("got %q, want %q", out.String(), "2\n3\n")
	}
}
