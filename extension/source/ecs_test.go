package source

import (
	"bytes"
	"encoding/json"
	"testing"

	"scsweep/extension/events"
)

func decodeDoc(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGetMixedKeys(t *testing.T) {
	tests := []struct{ name, doc, path, want string }{
		{"nested", `{"process":{"parent":{"name":"a.exe"}}}`, "process.parent.name", "a.exe"},
		{"flat", `{"process.parent.name":"b.exe"}`, "process.parent.name", "b.exe"},
		{"mixed", `{"process.parent":{"name":"c.exe"}}`, "process.parent.name", "c.exe"},
		{"mixed the other way", `{"process":{"parent.name":"d.exe"}}`, "process.parent.name", "d.exe"},
		{"first of a list", `{"event":{"category":["process","x"]}}`, "event.category", "process"},
		{"number", `{"process":{"pid":4294967296}}`, "process.pid", "4294967296"},
		{"absent", `{"process":{}}`, "process.parent.name", ""},
		{"not an object on the way", `{"process":"x"}`, "process.name", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := str(decodeDoc(t, tc.doc), tc.path); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestECSMapping(t *testing.T) {
	const start = `"event":{"category":["process"],"type":["start"]}`
	tests := []struct {
		name  string
		doc   string
		check func(ev *events.Event) (got, want any)
	}{
		{"endpoint user.id is the owner", `{` + start + `,"event.module":"endpoint","user":{"id":"S-1-5-21-1"}}`,
			func(ev *events.Event) (any, any) { return ev.UserSID, "S-1-5-21-1" }},
		{"sysmon user.id is the writer, not kept", `{` + start + `,"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational"},"user":{"id":"S-1-5-18"}}`,
			func(ev *events.Event) (any, any) { return ev.UserSID, "" }},
		{"sysmon is windows wherever shipped", `{` + start + `,"event.module":"sysmon","host":{"os":{"type":"linux"}}}`,
			func(ev *events.Event) (any, any) { return ev.OSType, "windows" }},
		{"name from a POSIX path when absent", `{` + start + `,"process":{"executable":"/usr/bin/curl"}}`,
			func(ev *events.Event) (any, any) { return ev.Name, "curl" }},
		{"signature from the Ext list", `{` + start + `,"process":{"Ext":{"code_signature":[{"trusted":false,"status":"errorExpired","subject_name":"X"}]}}}`,
			func(ev *events.Event) (any, any) {
				return [3]any{ev.SignatureStatus, ev.SignatureSubject, ev.SignatureTrusted != nil && !*ev.SignatureTrusted}, [3]any{"errorExpired", "X", true}
			}},
		{"hashes lower-cased", `{` + start + `,"process":{"hash":{"sha256":"ABCDEF"},"pe":{"imphash":"F0"}}}`,
			func(ev *events.Event) (any, any) { return ev.SHA256 + "/" + ev.PEImphash, "abcdef/f0" }},
		{"time from process.start when @timestamp is missing", `{` + start + `,"process":{"start":"2024-01-02T03:04:05Z"}}`,
			func(ev *events.Event) (any, any) { return ev.Time, int64(1704164645) }},
		{"same event id on two hosts differs", `{` + start + `,"event.id":"x","host":{"id":"h2"}}`,
			func(ev *events.Event) (any, any) { return ev.EID != eidOf("ecs", "h1", "x", ""), true }},
		{"event id without host still identifies", `{` + start + `,"_id":"abc"}`,
			func(ev *events.Event) (any, any) { return ev.EID, eidOf("ecs", "", "abc", "") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, reason := ecsEvent(decodeDoc(t, tc.doc))
			if reason != "" {
				t.Fatalf("skipped: %s", reason)
			}
			if got, want := tc.check(ev); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestEndgameMapping(t *testing.T) {
	ev, reason := endgameEvent(decodeDoc(t, `{"event_type":"process","subtype":"create","event_subtype_full":"creation_event",
		"pid":1788,"ppid":420,"unique_pid":53,"unique_ppid":48,"process_path":"C:\\Windows\\System32\\cmd.exe",
		"user_domain":"vagrant","user_name":"vagrant","timestamp":131509374294209140,"serial_event_id":53}`))
	if reason != "" {
		t.Fatal(reason)
	}
	got := [5]any{ev.Name, ev.EntityID, ev.ParentEntityID, ev.Username, ev.Time}
	want := [5]any{"cmd.exe", "53", "48", `vagrant\vagrant`, int64(1506463829)}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, sub := range []string{"already_running", "termination_event"} {
		if _, reason := endgameEvent(decodeDoc(t, `{"event_type":"process","subtype":"create","event_subtype_full":"`+sub+`"}`)); reason == "" {
			t.Errorf("%s: imported, want skipped", sub)
		}
	}
}
