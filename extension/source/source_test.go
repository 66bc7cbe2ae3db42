package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"scsweep/extension/events"
)

func collect(t *testing.T, r io.Reader, format string) ([]*events.Event, Summary) {
	t.Helper()
	var evs []*events.Event
	sum, err := Read(context.Background(), r, "test", format, func(ev *events.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return evs, sum
}

// The rule's cases, as the Sysmon XML fixture written the way wevtutil
// writes it must give them.
func TestScreenConnectFixture(t *testing.T) {
	evs, sum := func() ([]*events.Event, Summary) {
		var evs []*events.Event
		sum, err := ReadFile(context.Background(), filepath.Join(fixtureDir, "sysmon-xml", "wevtutil-screenconnect.xml"), "auto",
			func(ev *events.Event) error { evs = append(evs, ev); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return evs, sum
	}()
	if sum.Emitted != 4 || sum.Records != 6 {
		t.Fatalf("summary: got %+v, want 6 records, 4 emitted", sum)
	}
	type want struct{ name, ofn, parentName, parentPath string }
	wants := map[int64]want{
		6212: {"cmd.exe", "Cmd.Exe", "ScreenConnect.Service.exe", `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`},
		7020: {"svchost.exe", "svchost.exe", "services.exe", `C:\Windows\System32\services.exe`},
		5540: {"notepad.exe", "PowerShell.EXE", "ScreenConnect.Service.exe", `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`},
		6604: {"cmd.exe", "Cmd.Exe", "ScreenConnect.ClientService.exe", `C:\Program Files (x86)\ScreenConnect Client (4b0c5e9a3d7f1e26)\ScreenConnect.ClientService.exe`},
	}
	for _, ev := range evs {
		w, ok := wants[ev.PID]
		if !ok {
			t.Errorf("unexpected event pid %d", ev.PID)
			continue
		}
		got := want{ev.Name, ev.PEOriginalFileName, ev.ParentName, ev.ParentPath}
		if got != w {
			t.Errorf("pid %d: got %+v, want %+v", ev.PID, got, w)
		}
		if ev.OSType != "windows" || ev.Source != "sysmon" || ev.UserSID != "" {
			t.Errorf("pid %d: os_type %q source %q user_sid %q, want windows, sysmon, empty", ev.PID, ev.OSType, ev.Source, ev.UserSID)
		}
	}
}

// eventXML renders one Sysmon record the way wevtutil does.
func eventXML(recordID int, eventID int, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>%d</EventID><TimeCreated SystemTime='2024-03-01T10:00:00.0000000Z'/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>host1</Computer><Security UserID='S-1-5-18'/></System><EventData>", eventID, recordID)
	for _, k := range []string{"UtcTime", "ProcessGuid", "ProcessId", "Image", "CommandLine", "ParentProcessId", "ParentImage", "Hashes", "User", "OriginalFileName"} {
		if v, ok := data[k]; ok {
			fmt.Fprintf(&b, "<Data Name='%s'>%s</Data>", k, v)
		}
	}
	b.WriteString("</EventData></Event>")
	return b.String()
}

func startData(pid int) map[string]string {
	return map[string]string{
		"UtcTime": "2024-03-01 10:00:00.000", "ProcessGuid": fmt.Sprintf("{aaaaaaaa-bbbb-cccc-dddd-%012d}", pid),
		"ProcessId": fmt.Sprint(pid), "Image": `C:\Windows\System32\cmd.exe`, "CommandLine": "cmd.exe",
		"ParentProcessId": "4", "ParentImage": `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`,
	}
}

func TestSysmonMapping(t *testing.T) {
	tests := []struct {
		name  string
		data  map[string]string
		check func(*events.Event) string
	}{
		{"dash means empty", map[string]string{"ParentImage": "-", "User": "-", "ProcessGuid": "{00000000-0000-0000-0000-000000000000}"},
			func(ev *events.Event) string {
				if ev.ParentPath != "" || ev.ParentName != "" || ev.Username != "" || ev.EntityID != "" {
					return fmt.Sprintf("got parent %q/%q user %q entity %q, want all empty", ev.ParentPath, ev.ParentName, ev.Username, ev.EntityID)
				}
				return ""
			}},
		{"hashes in any order, lower-cased, zeros dropped", map[string]string{"Hashes": "IMPHASH=00000000000000000000000000000000,SHA1=AB12,MD5=CD34,SHA256=EF56"},
			func(ev *events.Event) string {
				if got := [4]string{ev.MD5, ev.SHA1, ev.SHA256, ev.PEImphash}; got != [4]string{"cd34", "ab12", "ef56", ""} {
					return fmt.Sprintf("got %v, want [cd34 ab12 ef56 ]", got)
				}
				return ""
			}},
		{"name is what follows the last backslash", map[string]string{"Image": `C:\a b\c.d\Evil.Exe`, "ParentImage": "System"},
			func(ev *events.Event) string {
				if ev.Name != "Evil.Exe" || ev.ParentName != "" {
					return fmt.Sprintf("got name %q parent %q, want Evil.Exe and empty", ev.Name, ev.ParentName)
				}
				return ""
			}},
		{"guid canonical upper case with braces", map[string]string{"ProcessGuid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
			func(ev *events.Event) string {
				if ev.EntityID != "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}" {
					return fmt.Sprintf("got %q", ev.EntityID)
				}
				return ""
			}},
		{"UtcTime gives the time", map[string]string{"UtcTime": "2024-03-01 10:00:07.999"},
			func(ev *events.Event) string {
				if ev.Time != 1709287207 {
					return fmt.Sprintf("got %d, want 1709287207", ev.Time)
				}
				return ""
			}},
		{"bad UtcTime falls back to TimeCreated", map[string]string{"UtcTime": "yesterday"},
			func(ev *events.Event) string {
				if ev.Time != 1709287200 {
					return fmt.Sprintf("got %d, want 1709287200", ev.Time)
				}
				return ""
			}},
		{"pid not a number is unknown", map[string]string{"ProcessId": "12a"},
			func(ev *events.Event) string {
				if ev.HasPID {
					return fmt.Sprintf("got pid %d known, want unknown", ev.PID)
				}
				return ""
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := startData(100)
			for k, v := range tc.data {
				d[k] = v
			}
			evs, sum := collect(t, strings.NewReader(eventXML(1, 1, d)), "sysmon-xml")
			if len(evs) != 1 {
				t.Fatalf("events: got %d (%+v), want 1", len(evs), sum)
			}
			if msg := tc.check(evs[0]); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestEIDStable(t *testing.T) {
	a := eventXML(7, 1, startData(100))
	b := eventXML(8, 1, startData(100)) // same process, another record
	evs, _ := collect(t, strings.NewReader(a+a+b), "sysmon-xml")
	if len(evs) != 3 {
		t.Fatalf("events: got %d, want 3", len(evs))
	}
	if evs[0].EID != evs[1].EID {
		t.Errorf("same record twice: got eids %s and %s, want equal", evs[0].EID, evs[1].EID)
	}
	if evs[0].EID == evs[2].EID {
		t.Errorf("different records: got the same eid %s", evs[0].EID)
	}
}

func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = append(out, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func TestXMLStreams(t *testing.T) {
	one := eventXML(1, 1, startData(100))
	two := eventXML(2, 1, startData(101))
	tests := []struct {
		name        string
		input       []byte
		wantEmitted int
		wantSkipped map[string]int
	}{
		{"bare stream", []byte(one + "\r\n" + two), 2, nil},
		{"enclosed in Events with declaration", []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n<Events>\n" + one + two + "</Events>"), 2, nil},
		{"UTF-8 BOM", append([]byte("\xef\xbb\xbf"), one...), 1, nil},
		{"UTF-16LE with BOM", utf16le(`<?xml version="1.0" encoding="UTF-16"?><Events>`+one+two+`</Events>`, true), 2, nil},
		{"UTF-16LE without BOM", utf16le(one, false), 1, nil},
		{"lone surrogate in UTF-16", append(utf16le(one, true), append([]byte{0x00, 0xd8}, utf16le(strings.Replace(two, "cmd.exe", "c\U0001F600.exe", 1), false)...)...), 2, nil},
		{"invalid UTF-16 inside a record", func() []byte {
			b := utf16le(strings.Replace(one, "cmd.exe<", "cmdX.exe<", 1), true)
			i := bytes.Index(b, utf16le("X", false))
			b[i], b[i+1] = 0x00, 0xdc // lone low surrogate
			return append(b, utf16le(two, false)...)
		}(), 1, map[string]int{reasonInvalidUTF8: 1}},
		{"unclosed element followed by a good one", []byte(strings.TrimSuffix(one, "</Event>") + two), 1, map[string]int{"malformed XML: Event element not closed": 1}},
		{"mismatched tags", []byte(strings.Replace(one, "</System>", "</Sys>", 1) + two), 1, map[string]int{"malformed XML": 1}},
		{"non-process-start events", []byte(eventXML(3, 3, startData(1)) + eventXML(4, 5, startData(2)) + eventXML(5, 4242, startData(3))), 0,
			map[string]int{"sysmon event 3 (network connection): not a process start": 1, "sysmon event 5 (process terminated): not a process start": 1, "unknown sysmon event id": 1}},
		{"no Event elements at all", []byte("<Events></Events>"), 0, nil},
		{"EventData and EventID are not Event starts", []byte("<EventData><EventID>1</EventID></EventData>" + one), 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, sum := collect(t, bytes.NewReader(tc.input), "auto")
			if len(evs) != tc.wantEmitted || sum.Emitted != tc.wantEmitted {
				t.Errorf("emitted: got %d (summary %+v), want %d", len(evs), sum, tc.wantEmitted)
			}
			if len(sum.Skipped) != 0 || len(tc.wantSkipped) != 0 {
				if !reflect.DeepEqual(sum.Skipped, tc.wantSkipped) {
					t.Errorf("skipped: got %v, want %v", sum.Skipped, tc.wantSkipped)
				}
			}
			if sum.Records != sum.Emitted+total(sum.Skipped) {
				t.Errorf("records %d != emitted %d + skipped %d", sum.Records, sum.Emitted, total(sum.Skipped))
			}
		})
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestHugeRecords(t *testing.T) {
	long := startData(100)
	long["CommandLine"] = strings.Repeat("é", MaxFieldBytes) // 64 KiB of 2-byte runes
	huge := startData(101)
	huge["CommandLine"] = strings.Repeat("A", 3*MaxRecordBytes)
	input := eventXML(1, 1, long) + eventXML(2, 1, huge) + eventXML(3, 1, startData(102))
	evs, sum := collect(t, strings.NewReader(input), "sysmon-xml")
	if len(evs) != 2 {
		t.Fatalf("events: got %d (%+v), want 2", len(evs), sum)
	}
	if got := len(evs[0].Cmdline); got > MaxFieldBytes || got < MaxFieldBytes-1 {
		t.Errorf("truncated command line: got %d bytes, want %d", got, MaxFieldBytes)
	}
	if !strings.HasPrefix(evs[0].Cmdline, "éé") || strings.ContainsRune(evs[0].Cmdline, '\uFFFD') {
		t.Errorf("truncated command line split a rune")
	}
	if sum.Notes["cmdline truncated to 32 KiB"] != 1 || sum.Skipped[reasonTooBig] != 1 {
		t.Errorf("summary: got %+v, want one truncation note and one %q", sum, reasonTooBig)
	}
	if evs[1].PID != 102 {
		t.Errorf("record after the huge one: got pid %d, want 102", evs[1].PID)
	}

	// The same for JSON: a 3 MiB line is skipped, the next line imports.
	doc := `{"event":{"id":"%d","category":"process","type":"start"},"process":{"pid":%d,"command_line":"%s"}}` + "\n"
	js := fmt.Sprintf(doc, 1, 1, strings.Repeat("B", 3*MaxRecordBytes)) + fmt.Sprintf(doc, 2, 2, "ok")
	evs, sum = collect(t, strings.NewReader(js), "ecs")
	if len(evs) != 1 || evs[0].PID != 2 || sum.Skipped[reasonTooBig] != 1 {
		t.Errorf("json: got %d events %+v, want pid 2 imported and one %q", len(evs), sum, reasonTooBig)
	}
}

func TestJSONStreams(t *testing.T) {
	doc := func(id int) string {
		return fmt.Sprintf(`{"@timestamp":"2024-03-01T10:00:00Z","event":{"id":"e%d","category":["process"],"type":["start"]},"host":{"id":"h"},"process":{"pid":%d,"name":"cmd.exe","parent":{"name":"ScreenConnect.Service.exe"}}}`, id, id)
	}
	tests := []struct {
		name        string
		input       string
		wantPIDs    []int64
		wantSkipped map[string]int
	}{
		{"ndjson", doc(1) + "\n" + doc(2) + "\n", []int64{1, 2}, nil},
		{"array", "[" + doc(1) + ",\n" + doc(2) + "]", []int64{1, 2}, nil},
		{"single pretty document", strings.ReplaceAll(doc(1), ",", ",\n  "), []int64{1}, nil},
		{"events wrapper", `{"events":[` + doc(1) + "," + doc(2) + "]}", []int64{1, 2}, nil},
		{"broken line between good ones", doc(1) + "\n" + `{"event": {"category": "process"` + "\n" + doc(2) + "\n", []int64{1, 2},
			map[string]int{"malformed JSON: document not closed": 1}},
		{"invalid JSON inside a closed document", doc(1) + "\n" + `{"a": tru}` + "\n" + doc(2), []int64{1, 2}, map[string]int{"malformed JSON": 1}},
		{"unterminated string", doc(1) + "\n" + `{"a": "abc}` + "\n" + doc(2), []int64{1, 2}, map[string]int{"malformed JSON: document not closed": 1}},
		{"truncated last document", doc(1) + "\n" + doc(2)[:40], []int64{1}, map[string]int{"malformed JSON: truncated document": 1}},
		{"invalid UTF-8", doc(1) + "\n" + strings.Replace(doc(2), "cmd", "c\xffd", 1), []int64{1}, map[string]int{reasonInvalidUTF8: 1}},
		{"flat dotted keys", `{"event.category":"process","event.type":"start","process.pid":7,"process.parent.name":"x.exe"}`, []int64{7}, nil},
		{"not a start", `{"event":{"category":"process","type":"end"},"process":{"pid":1}}`, nil, map[string]int{reasonNotStart: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, sum := collect(t, strings.NewReader(tc.input), "auto")
			var pids []int64
			for _, ev := range evs {
				pids = append(pids, ev.PID)
			}
			if !reflect.DeepEqual(pids, tc.wantPIDs) {
				t.Errorf("pids: got %v, want %v", pids, tc.wantPIDs)
			}
			if (len(sum.Skipped) != 0 || len(tc.wantSkipped) != 0) && !reflect.DeepEqual(sum.Skipped, tc.wantSkipped) {
				t.Errorf("skipped: got %v, want %v", sum.Skipped, tc.wantSkipped)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	want := []string{"auto", "crowdstrike-fdr", "ecs", "m365-defender", "sentinelone-cloud-funnel", "sysmon-evtx", "sysmon-xml"}
	if got := Formats(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Formats: got %v, want %v", got, want)
	}
	for _, f := range want {
		if FormatHelp(f) == "" {
			t.Errorf("FormatHelp(%q) is empty", f)
		}
	}
	if _, err := Read(context.Background(), strings.NewReader("{}"), "x", "csv", nil); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("unknown format: got %v, want an unknown format error", err)
	}
	if _, err := Read(context.Background(), strings.NewReader("hello"), "x", "auto", nil); err == nil {
		t.Errorf("undetectable input: got no error")
	}
	if _, err := Read(context.Background(), strings.NewReader("not evtx"), "x", "sysmon-evtx", nil); err == nil {
		t.Errorf("evtx format on text: got no error")
	}
}

func TestEmitErrorStops(t *testing.T) {
	boom := errors.New("store full")
	input := eventXML(1, 1, startData(1)) + eventXML(2, 1, startData(2))
	n := 0
	sum, err := Read(context.Background(), strings.NewReader(input), "x", "auto", func(*events.Event) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 || sum.Emitted != 0 {
		t.Fatalf("got err %v after %d emits (%+v), want %v after 1", err, n, sum, boom)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Read(ctx, strings.NewReader(eventXML(1, 1, startData(1))), "x", "auto", func(*events.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// One Sysmon record, rendered as Windows XML, as winlogbeat ships it and as
// an EVTX dump, must give the same row, eid included.
func TestSameRecordEveryRendering(t *testing.T) {
	d := startData(4242)
	d["ProcessGuid"] = "{7f3c2a10-0f2f-65d6-4a03-000000001c00}"
	d["Hashes"] = "MD5=3B6C6CB9A3B2F0A8C4A2D7F6C1E8B905,IMPHASH=392B4D61B1D1DADC1F06444DF258188A"
	d["User"] = `NT AUTHORITY\SYSTEM`
	d["OriginalFileName"] = "Cmd.Exe"
	xmlRec := eventXML(48211, 1, d)

	data := map[string]any{}
	for k, v := range d {
		data[k] = v
	}
	wl := map[string]any{"winlog": map[string]any{
		"provider_name": "Microsoft-Windows-Sysmon", "channel": "Microsoft-Windows-Sysmon/Operational",
		"computer_name": "host1", "event_id": "1", "record_id": 48211, "event_data": data,
		"user": map[string]any{"identifier": "S-1-5-18"},
	}}
	dumpData := map[string]any{}
	for k, v := range data {
		dumpData[k] = v
	}
	dumpData["ProcessGuid"] = "7F3C2A10-0F2F-65D6-4A03-000000001C00"
	dumpData["ProcessId"] = 4242
	dump := map[string]any{"Event": map[string]any{
		"System": map[string]any{
			"Provider": map[string]any{"#attributes": map[string]any{"Name": "Microsoft-Windows-Sysmon"}},
			"EventID":  1, "EventRecordID": 48211, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "host1",
			"TimeCreated": map[string]any{"#attributes": map[string]any{"SystemTime": "2024-03-01T10:00:00.0000000Z"}},
		},
		"EventData": dumpData,
	}}
	rows := map[string]map[string]string{}
	for name, input := range map[string]string{"xml": xmlRec, "winlogbeat": mustJSON(t, wl), "evtx dump": mustJSON(t, dump)} {
		evs, sum := collect(t, strings.NewReader(input), "auto")
		if len(evs) != 1 {
			t.Fatalf("%s: got %d events (%+v), want 1", name, len(evs), sum)
		}
		rows[name] = evs[0].Row()
	}
	for _, name := range []string{"winlogbeat", "evtx dump"} {
		for col, want := range rows["xml"] {
			if got := rows[name][col]; got != want {
				t.Errorf("%s column %s: got %q, want %q (as from XML)", name, col, got, want)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
