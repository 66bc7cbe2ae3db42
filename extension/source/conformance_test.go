package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"scsweep/extension/events"
	"scsweep/extension/schema"
	"scsweep/extension/schema/peers"
)

// Conformance with Elastic's own ingest pipelines, over real records kept
// outside the project (../shared/peers/telemetry). Each record must import,
// and every field of the ECS document Elastic makes of it must equal the
// field of the document our row turns into, except the differences listed
// here, which are deliberate.
var knownDifferences = map[string]string{
	"event.id":                 "our event.id is the row's eid, derived from the record's own id (documented in package source)",
	"event.ingested":           "set when the event store takes the event, not at parse time; the store sets it to its own clock",
	"user.id":                  "Sysmon's Security UserID is the event writer (SYSTEM), not the process owner: user_sid stays empty",
	"user.name":                "username keeps DOMAIN\\name as the record gives it (Sysmon User, 4688 Subject or Target); Elastic splits it into user.domain and user.name",
	"process.entity_id":        "Sysmon process GUIDs are written {UPPER-CASE} whatever the rendering, so XML, EVTX and JSON renderings agree",
	"process.parent.entity_id": "as process.entity_id",
	"@timestamp":               "the time column is in whole seconds: compared at second precision",
	"host.id":                  "not a column: a row is from the osquery host that holds it, whose identity the sweeper adds",
}

// ruleFields are the fields the ScreenConnect rule and its investigation
// guide use: each is checked by name on every conformance record, and
// reported equal, differing or absent on both sides.
var ruleFields = []string{
	"process.name", "process.executable", "process.command_line", "process.pe.original_file_name",
	"process.parent.name", "process.parent.executable", "process.parent.command_line",
	"process.hash.sha256", "user.id", "host.id", "event.type",
}

// flatten turns a nested document into dotted field → value.
func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
		return
	}
	out[prefix] = v
}

// sameValue compares an ECS value of ours with Elastic's: a one-element
// list equals its element (EQL treats fields as multi-valued), numbers
// compare by their text.
func sameValue(field string, ours, theirs any) bool {
	if l, ok := theirs.([]any); ok && len(l) == 1 {
		theirs = l[0]
	}
	if field == "@timestamp" {
		a, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(ours))
		b, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(theirs))
		return err1 == nil && err2 == nil && a.Unix() == b.Unix()
	}
	return fmt.Sprint(ours) == fmt.Sprint(theirs)
}

// compareECS reports, by field name, every field of want that our event's
// document lacks or holds differently. Fields listed in knownDifferences
// are logged, not failed; fields only we produce are logged.
func compareECS(t *testing.T, ev *events.Event, want map[string]any) {
	t.Helper()
	ours := map[string]any{}
	flatten("", schema.ProcessLineageEvents.ECSDocument(ev.Row()), ours)
	theirs := map[string]any{}
	flatten("", want, theirs)
	fields := make([]string, 0, len(theirs))
	for f := range theirs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		w := theirs[f]
		if s, ok := w.(string); ok && s == "" {
			// Elastic keeps an empty string where the source had one; an
			// empty column is a missing field for us, and for EQL the same.
			w = nil
		}
		o, have := ours[f]
		if _, mapped := schema.ProcessLineageEvents.ColumnForECS(f); !mapped && schema.ProcessLineageEvents.Constant[f] == nil {
			continue // a field the table does not carry (agent.*, process.args, ...)
		}
		switch {
		case w == nil && !have:
		case have && w != nil && sameValue(f, o, w):
		case knownDifferences[f] != "":
			t.Logf("known difference %s: ours %v, Elastic %v (%s)", f, o, w, knownDifferences[f])
		default:
			t.Errorf("field %s: got %v, want %v", f, o, w)
		}
	}
	// The rule's fields, by name, whether or not the table carries them.
	for _, f := range ruleFields {
		o, have := ours[f]
		w := theirs[f]
		if s, ok := w.(string); ok && s == "" {
			w = nil
		}
		switch {
		case w == nil && !have:
			t.Logf("rule field %s: absent in both", f)
		case have && w != nil && sameValue(f, o, w):
			t.Logf("rule field %s: equal", f)
		case knownDifferences[f] != "":
			t.Logf("rule field %s: differs, deliberately: ours %v, Elastic %v (%s)", f, o, w, knownDifferences[f])
		default:
			t.Errorf("rule field %s: got %v, want %v", f, o, w)
		}
	}
	var extra []string
	for f := range ours {
		if _, ok := theirs[f]; !ok {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Logf("fields we add that Elastic's document lacks: %s", strings.Join(extra, ", "))
	}
}

func readJSONFile(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func importFile(t *testing.T, path, format string) ([]*events.Event, Summary) {
	t.Helper()
	var evs []*events.Event
	sum, err := ReadFile(context.Background(), path, format, func(ev *events.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return evs, sum
}

// elasticSysmon is the ECS document Elastic's windows.sysmon_operational
// pipeline makes of a Sysmon Event ID 1, restricted to the fields the
// process_lineage_events table carries: written from the pipeline's rules
// (empty values, "-" and the zero GUID dropped; hashes lower-cased, zero
// hashes dropped, IMPHASH → process.pe.imphash; names after the last
// backslash; User split at the backslash; user.id from the record's
// Security UserID; @timestamp from UtcTime). GUIDs are braced, as
// winlogbeat renders them.
func elasticSysmon(data map[string]any, userID string) map[string]any {
	d := map[string]string{}
	for k, v := range data {
		s := fmt.Sprint(v)
		if (k == "ProcessGuid" || k == "ParentProcessGuid") && len(s) == 36 {
			s = "{" + s + "}" // as winlogbeat renders a GUID from an EVTX record
		}
		switch s {
		case "", "-", "{00000000-0000-0000-0000-000000000000}":
			continue
		}
		d[k] = s
	}
	doc := map[string]any{"event": map[string]any{"category": []any{"process"}, "type": []any{"start"}, "kind": "event"}}
	set := func(path, v string) {
		if v != "" {
			setField(doc, path, v)
		}
	}
	set("process.entity_id", d["ProcessGuid"])
	set("process.pid", d["ProcessId"])
	set("process.executable", d["Image"])
	set("process.command_line", d["CommandLine"])
	set("process.working_directory", d["CurrentDirectory"])
	set("process.parent.entity_id", d["ParentProcessGuid"])
	set("process.parent.pid", d["ParentProcessId"])
	set("process.parent.executable", d["ParentImage"])
	set("process.parent.command_line", d["ParentCommandLine"])
	set("process.pe.original_file_name", d["OriginalFileName"])
	set("process.pe.company", d["Company"])
	set("process.pe.description", d["Description"])
	set("process.pe.file_version", d["FileVersion"])
	set("process.pe.product", d["Product"])
	for _, kv := range strings.Split(d["Hashes"], ",") {
		k, v, ok := strings.Cut(kv, "=")
		v = strings.ToLower(v)
		if !ok || strings.Trim(v, "0") == "" {
			continue
		}
		k = strings.ToLower(k)
		if k == "imphash" {
			set("process.pe.imphash", v)
		} else {
			set("process.hash."+k, v)
		}
	}
	if i := strings.LastIndex(d["Image"], `\`); i >= 0 {
		set("process.name", d["Image"][i+1:])
	}
	if i := strings.LastIndex(d["ParentImage"], `\`); i >= 0 {
		set("process.parent.name", d["ParentImage"][i+1:])
	}
	if parts := strings.Split(d["User"], `\`); len(parts) == 2 {
		set("user.name", parts[1])
	}
	set("user.id", userID)
	if t, err := time.Parse("2006-01-02 15:04:05.000", d["UtcTime"]); err == nil {
		set("@timestamp", t.UTC().Format(time.RFC3339Nano))
	}
	return doc
}

func setField(doc map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		n, ok := m[p].(map[string]any)
		if !ok {
			n = map[string]any{}
			m[p] = n
		}
		m = n
	}
	m[parts[len(parts)-1]] = v
}

func TestConformanceElasticDefend(t *testing.T) {
	path := peers.Path(t, "telemetry/elastic_defend/sample_event.json")
	evs, sum := importFile(t, path, "auto")
	if len(evs) != 1 {
		t.Fatalf("events: got %d (%+v), want 1", len(evs), sum)
	}
	if evs[0].Source != "endpoint" {
		t.Errorf("source: got %q, want endpoint", evs[0].Source)
	}
	// The sample is itself the document Elastic stores.
	compareECS(t, evs[0], readJSONFile(t, path).(map[string]any))
}

func TestConformanceWinlogbeatSysmon(t *testing.T) {
	path := peers.Path(t, "telemetry/sysmon/test-events.EXCERPT-last-event-input-only.json")
	evs, sum := importFile(t, path, "auto")
	if len(evs) != 1 {
		t.Fatalf("events: got %d (%+v), want 1", len(evs), sum)
	}
	in := readJSONFile(t, path).(map[string]any)["events"].([]any)[0].(map[string]any)
	data := get(in, "winlog.event_data").(map[string]any)
	compareECS(t, evs[0], elasticSysmon(data, str(in, "winlog.user.identifier")))
	if evs[0].OSType != "windows" {
		t.Errorf("os_type: got %q, want windows", evs[0].OSType)
	}
}

// The sigma regression records come as an .evtx file and its JSON dump:
// both must import to the same row, which must match Elastic's mapping.
func TestConformanceSigmaEVTX(t *testing.T) {
	dir := peers.Path(t, "telemetry/sysmon_evtx_sigma")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.evtx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .evtx files in %s: %v", dir, err)
	}
	for _, evtxPath := range files {
		name := filepath.Base(filepath.Dir(evtxPath))
		t.Run(name, func(t *testing.T) {
			fromEVTX, sum := importFile(t, evtxPath, "auto")
			if len(fromEVTX) == 0 {
				t.Fatalf("evtx: no process start imported (%+v)", sum)
			}
			jsonPath := strings.TrimSuffix(evtxPath, ".evtx") + ".json"
			fromJSON, sum := importFile(t, jsonPath, "auto")
			if len(fromJSON) != 1 {
				t.Fatalf("json: got %d events (%+v), want 1", len(fromJSON), sum)
			}
			var match *events.Event
			for _, ev := range fromEVTX {
				if ev.EID == fromJSON[0].EID {
					match = ev
				}
			}
			if match == nil {
				t.Fatalf("no EVTX record has the JSON dump's eid %s", fromJSON[0].EID)
			}
			a, b := match.Row(), fromJSON[0].Row()
			for k := range a {
				if a[k] != b[k] {
					t.Errorf("column %s: evtx %q, json %q", k, a[k], b[k])
				}
			}
			dump := readJSONFile(t, jsonPath).(map[string]any)["Event"].(map[string]any)
			sys := dump["System"].(map[string]any)
			userID := xmlish(sys, "Security", "UserID")
			compareECS(t, match, elasticSysmon(dump["EventData"].(map[string]any), userID))
		})
	}
}

// Security 4688 as winlogbeat ships it, directly (system.security) and
// through Windows Event Forwarding (windows.forwarded). The expected file
// covers the first input event only.
func TestConformanceSecurity4688(t *testing.T) {
	for _, dir := range []string{"system_security_4688", "windows_forwarded_4688"} {
		t.Run(dir, func(t *testing.T) {
			in := peers.Path(t, "telemetry/"+dir+"/test-security-windows2019-4688-process-created.json")
			evs, sum := importFile(t, in, "auto")
			n := len(readJSONFile(t, in).(map[string]any)["events"].([]any))
			if len(evs) != n {
				t.Fatalf("events: got %d (%+v), want %d", len(evs), sum, n)
			}
			for _, ev := range evs {
				if ev.Source != "security" || ev.OSType != "windows" {
					t.Errorf("source %q os_type %q, want security, windows", ev.Source, ev.OSType)
				}
			}
			want := readJSONFile(t, in+"-expected.json").(map[string]any)["expected"].([]any)[0].(map[string]any)
			compareECS(t, evs[0], want)
		})
	}
}

// The third-party sources: each input must import entirely, and the
// fields of Elastic's document must equal ours.
func TestConformanceThirdParty(t *testing.T) {
	for _, tc := range []struct {
		dir, in, expected, source string
		wantEvents                int
	}{
		{"crowdstrike_fdr", "test-windows.EXCERPT-ProcessRollup2.log", "test-windows.log-expected.EXCERPT-ProcessRollup2.json", "crowdstrike", 1},
		{"m365_defender", "test-device.EXCERPT-DeviceProcessEvents.log", "test-device.log-expected.EXCERPT-DeviceProcessEvents.json", "m365_defender", 1},
		{"sentinel_one_cloud_funnel", "test-process.log", "test-process.log-expected.json", "sentinel_one", 1},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			in := peers.Path(t, "telemetry/"+tc.dir+"/"+tc.in)
			evs, sum := importFile(t, in, "auto")
			if len(evs) != tc.wantEvents {
				t.Fatalf("events: got %d (%+v), want %d", len(evs), sum, tc.wantEvents)
			}
			want := readJSONFile(t, filepath.Join(filepath.Dir(in), tc.expected)).(map[string]any)["expected"].([]any)
			// Expected documents of other event kinds (PeVersionInfo) are
			// not process starts.
			var starts []map[string]any
			for _, w := range want {
				if d := w.(map[string]any); hasValue(d, "event.type", "start") {
					starts = append(starts, d)
				}
			}
			if len(starts) != len(evs) {
				t.Fatalf("process starts: Elastic %d, ours %d", len(starts), len(evs))
			}
			for i, ev := range evs {
				if ev.Source != tc.source {
					t.Errorf("source: got %q, want %q", ev.Source, tc.source)
				}
				compareECS(t, ev, starts[i])
			}
		})
	}
}
