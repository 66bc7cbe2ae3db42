package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

// Records of the third-party formats, built as the real ones are shaped.

func fdrRecord(i int, cmdline string) map[string]any {
	return map[string]any{
		"event_simpleName": "ProcessRollup2", "event_platform": "Win",
		"aid": "aid1", "cid": "cid1", "id": fmt.Sprintf("id-%d", i),
		"timestamp": "1708769731441", "TargetProcessId": fmt.Sprint(4294971000 + i), "RawProcessId": fmt.Sprint(i),
		"ParentProcessId": "4294967301", "ParentBaseFileName": "ScreenConnect.Service.exe",
		"ImageFileName": `\Device\HarddiskVolume2\Windows\System32\cmd.exe`, "CommandLine": cmdline,
		"SHA256HashData": "b99d61d874728edc0918ca0eb10eab93d381e7367e377406e65963366c874450", "UserSid": "S-1-5-18",
	}
}

func m365Record(i int, cmdline string) map[string]any {
	return map[string]any{
		"category": "AdvancedHunting-DeviceProcessEvents", "operationName": "Publish",
		"properties": map[string]any{
			"Timestamp": "2024-02-24T10:15:31.4412307Z", "DeviceId": "dev1", "ActionType": "ProcessCreated",
			"FileName": "cmd.exe", "FolderPath": `C:\Windows\System32\cmd.exe`, "ProcessId": i, "ProcessCommandLine": cmdline,
			"InitiatingProcessFileName": "ScreenConnect.Service.exe", "ReportId": i,
		},
	}
}

func s1Record(i int, cmdline string) map[string]any {
	return map[string]any{
		"event.time": 1708769731441, "event.id": fmt.Sprintf("ev_%d", i), "meta.event.name": "PROCESSCREATION",
		"agent.uuid": "agent1", "endpoint.os": "windows",
		"tgt.process.name": "cmd.exe", "tgt.process.image.path": `C:\Windows\System32\cmd.exe`,
		"tgt.process.cmdline": cmdline, "tgt.process.pid": i, "tgt.process.uid": fmt.Sprintf("UID%d", i),
		"src.process.name": "ScreenConnect.Service.exe", "src.process.pid": 2816,
	}
}

func line(t *testing.T, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// hugeLine is the record with a command line of n bytes, streamed without
// building it: it splits the record's JSON around a marker.
func hugeLine(t *testing.T, rec func(int, string) map[string]any, i, n int) io.Reader {
	t.Helper()
	before, after, ok := strings.Cut(line(t, rec(i, "@@CMD@@")), "@@CMD@@")
	if !ok {
		t.Fatal("marker lost")
	}
	return io.MultiReader(strings.NewReader(before), io.LimitReader(repeatByte('A'), int64(n)), strings.NewReader(after))
}

type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// Bad input in each third-party format costs only the bad record, with a
// reason; the good records around it import.
func TestThirdPartyBadInput(t *testing.T) {
	formats := []struct {
		name    string
		rec     func(int, string) map[string]any
		unknown map[string]any
	}{
		{kindFDR, fdrRecord, map[string]any{"event_simpleName": "DnsRequest", "aid": "aid1", "DomainName": "example.org"}},
		{kindM365, m365Record, map[string]any{"category": "AdvancedHunting-DeviceNetworkEvents", "properties": map[string]any{"DeviceId": "dev1", "ActionType": "ConnectionSuccess"}}},
		{kindS1, s1Record, map[string]any{"event.time": 1, "meta.event.name": "TCPV4", "agent.uuid": "agent1"}},
	}
	for _, f := range formats {
		good := func(i int) string { return line(t, f.rec(i, fmt.Sprintf("cmd.exe /c echo %d", i))) }
		cases := []struct {
			name       string
			bad        func() io.Reader
			wantReason string
		}{
			{"100 MB command line", func() io.Reader { return hugeLine(t, f.rec, 2, 100<<20) }, reasonTooBig},
			{"invalid UTF-8", func() io.Reader {
				return strings.NewReader(strings.Replace(good(2), "echo 2", "echo \xff\xfe", 1))
			}, reasonInvalidUTF8},
			{"malformed line", func() io.Reader { return strings.NewReader(good(2)[:40] + "\n") }, "malformed JSON: document not closed"},
			{"unknown event kind", func() io.Reader { return strings.NewReader(line(t, f.unknown)) }, reasonNotStart},
			{"not an object", func() io.Reader { return strings.NewReader("[1,2]\n") }, "JSON value is not an object"},
		}
		for _, tc := range cases {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				in := io.MultiReader(strings.NewReader(good(1)), tc.bad(), strings.NewReader(good(3)))
				evs, sum := collect(t, in, f.name)
				var pids []int64
				for _, ev := range evs {
					pids = append(pids, ev.PID)
				}
				if !reflect.DeepEqual(pids, []int64{1, 3}) {
					t.Errorf("pids: got %v, want [1 3]", pids)
				}
				if want := map[string]int{tc.wantReason: 1}; !reflect.DeepEqual(sum.Skipped, want) {
					t.Errorf("skipped: got %v, want %v", sum.Skipped, want)
				}
			})
		}
		t.Run(f.name+"/invalid UTF-16", func(t *testing.T) {
			// UTF-16LE with a byte order mark, as PowerShell writes files;
			// the second record holds a lone surrogate.
			var u []uint16
			u = append(u, 0xfeff)
			u = append(u, utf16.Encode([]rune(good(1)))...)
			bad := utf16.Encode([]rune(good(2)))
			i := strings.Index(good(2), "echo 2") + len("echo ")
			bad[i] = 0xd800
			u = append(u, bad...)
			u = append(u, utf16.Encode([]rune(good(3)))...)
			b := make([]byte, 0, 2*len(u))
			for _, c := range u {
				b = append(b, byte(c), byte(c>>8))
			}
			evs, sum := collect(t, bytes.NewReader(b), f.name)
			if len(evs) != 2 || evs[0].PID != 1 || evs[1].PID != 3 || sum.Skipped[reasonInvalidUTF8] != 1 {
				t.Errorf("got %d events %+v, want pids 1 and 3 and one %q", len(evs), sum, reasonInvalidUTF8)
			}
		})
		t.Run(f.name+"/truncated last record", func(t *testing.T) {
			in := good(1) + strings.TrimSuffix(good(2), "}\n")
			evs, sum := collect(t, strings.NewReader(in), f.name)
			if len(evs) != 1 || sum.Skipped["malformed JSON: truncated document"] != 1 {
				t.Errorf("got %d events %+v, want 1 and one truncated document", len(evs), sum)
			}
		})
	}
}

// auto tells the formats apart per document, and an explicit format skips
// the documents of another.
func TestThirdPartyDetection(t *testing.T) {
	in := line(t, fdrRecord(1, "a")) + line(t, m365Record(2, "b")) + line(t, s1Record(3, "c"))
	evs, sum := collect(t, strings.NewReader(in), "auto")
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Source)
	}
	if want := []string{"m365_defender", "sentinel_one", "crowdstrike"}; !reflect.DeepEqual(got, want) {
		// FDR starts are held back for the PeVersionInfo join: they come last.
		t.Errorf("sources: got %v (%+v), want %v", got, sum, want)
	}
	for _, f := range []string{kindFDR, kindM365, kindS1} {
		evs, sum := collect(t, strings.NewReader(in), f)
		if len(evs) != 1 || sum.Skipped[reasonWrongFmt+" ("+f+")"] != 2 {
			t.Errorf("--format %s: got %d events %+v, want 1 and 2 of another format", f, len(evs), sum)
		}
	}
}

func TestFDRPeVersionJoin(t *testing.T) {
	pv := func(aid, image, sha, orig string) map[string]any {
		return map[string]any{"event_simpleName": "PeVersionInfo", "aid": aid, "ImageFileName": image,
			"SHA256HashData": sha, "OriginalFilename": orig, "CompanyName": "Microsoft Corporation"}
	}
	cmd := fdrRecord(1, "cmd.exe")
	image, sha := cmd["ImageFileName"].(string), cmd["SHA256HashData"].(string)
	tests := []struct {
		name string
		docs []map[string]any
		want string
	}{
		{"version info before the start", []map[string]any{pv("aid1", "", sha, "Cmd.Exe"), cmd}, "Cmd.Exe"},
		{"version info after the start", []map[string]any{cmd, pv("aid1", "", sha, "Cmd.Exe")}, "Cmd.Exe"},
		{"joined by image path when hashes differ", []map[string]any{cmd, pv("aid1", strings.ToUpper(image), "00ff", "Cmd.Exe")}, "Cmd.Exe"},
		{"another sensor's version info is not joined", []map[string]any{cmd, pv("aid2", image, sha, "Cmd.Exe")}, ""},
		{"no version info", []map[string]any{cmd}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in strings.Builder
			for _, d := range tc.docs {
				in.WriteString(line(t, d))
			}
			evs, sum := collect(t, strings.NewReader(in.String()), kindFDR)
			if len(evs) != 1 {
				t.Fatalf("events: got %d (%+v), want 1", len(evs), sum)
			}
			if evs[0].PEOriginalFileName != tc.want {
				t.Errorf("pe_original_file_name: got %q, want %q", evs[0].PEOriginalFileName, tc.want)
			}
		})
	}

	// More starts than are held back: every one is emitted once, in order.
	var in bytes.Buffer
	n := maxFDRPending + 10
	for i := 1; i <= n; i++ {
		in.WriteString(line(t, fdrRecord(i, "x")))
	}
	evs, sum := collect(t, &in, kindFDR)
	if len(evs) != n || sum.Emitted != n {
		t.Fatalf("events: got %d (%+v), want %d", len(evs), sum, n)
	}
	for i, ev := range evs {
		if ev.PID != int64(i+1) {
			t.Fatalf("event %d: got pid %d, want %d", i, ev.PID, i+1)
		}
	}
}

// Defender XDR rows: process starts and the OS as Elastic's pipeline
// decides them.
func TestM365StartAndOS(t *testing.T) {
	tests := []struct {
		name     string
		change   func(p map[string]any, doc map[string]any)
		wantOS   string
		wantSkip string
	}{
		{"no OSPlatform: OS unknown", func(p, d map[string]any) {}, "", ""},
		{"OSPlatform Windows10", func(p, d map[string]any) { p["OSPlatform"] = "Windows10" }, "windows", ""},
		{"another ActionType", func(p, d map[string]any) { p["ActionType"] = "OpenProcess" }, "", reasonNotStart},
		{"another table", func(p, d map[string]any) { d["category"] = "AdvancedHunting-DeviceFileEvents" }, "", reasonNotStart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := m365Record(1, "cmd.exe")
			tc.change(doc["properties"].(map[string]any), doc)
			evs, sum := collect(t, strings.NewReader(line(t, doc)), kindM365)
			if tc.wantSkip != "" {
				if len(evs) != 0 || sum.Skipped[tc.wantSkip] != 1 {
					t.Errorf("got %d events %+v, want none and one %q", len(evs), sum, tc.wantSkip)
				}
				return
			}
			if len(evs) != 1 || evs[0].OSType != tc.wantOS {
				t.Fatalf("got %d events %+v, want one with os_type %q", len(evs), sum, tc.wantOS)
			}
		})
	}
}
