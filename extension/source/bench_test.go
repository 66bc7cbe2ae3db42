package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"scsweep/extension/events"
)

// benchRead imports input b.N times and reports records per second.
func benchRead(b *testing.B, input []byte, format string, perInput int) {
	b.Helper()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	ctx := context.Background()
	emit := func(*events.Event) error { return nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum, err := Read(ctx, bytes.NewReader(input), "bench", format, emit)
		if err != nil || sum.Emitted != perInput {
			b.Fatalf("got %+v, %v; want %d emitted", sum, err, perInput)
		}
	}
	b.ReportMetric(float64(b.N*perInput)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkSysmonXML(b *testing.B) {
	var sb strings.Builder
	const n = 1000
	for i := 0; i < n; i++ {
		d := startData(1000 + i)
		d["CommandLine"] = fmt.Sprintf(`&quot;C:\Windows\System32\cmd.exe&quot; /c echo %d &gt; C:\Windows\Temp\out.txt`, i)
		d["Hashes"] = "MD5=3B6C6CB9A3B2F0A8C4A2D7F6C1E8B905,SHA256=6F1C8D2E4B0A9C3D7E5F1A2B4C6D8E0F1A3B5C7D9E1F2A4B6C8D0E2F4A6B8C0D,IMPHASH=392B4D61B1D1DADC1F06444DF258188A"
		d["User"] = `NT AUTHORITY\SYSTEM`
		d["OriginalFileName"] = "Cmd.Exe"
		sb.WriteString(eventXML(i, 1, d))
		sb.WriteString("\r\n")
	}
	benchRead(b, []byte(sb.String()), "sysmon-xml", n)
}

func BenchmarkECS(b *testing.B) {
	var sb strings.Builder
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"@timestamp":"2024-02-24T10:15:31.4412307Z","agent":{"type":"endpoint","id":"a1"},"host":{"id":"h1","name":"sc-srv03","os":{"type":"windows"}},"event":{"id":"ev%d","kind":"event","category":["process"],"type":["start"],"action":"start","module":"endpoint","dataset":"endpoint.events.process"},"user":{"name":"SYSTEM","domain":"NT AUTHORITY","id":"S-1-5-18"},"process":{"pid":%d,"entity_id":"ZW50aXR5LSVk%d","name":"powershell.exe","executable":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","command_line":"powershell.exe -nop -c Get-Date","args":["powershell.exe","-nop","-c","Get-Date"],"pe":{"original_file_name":"PowerShell.EXE"},"hash":{"sha256":"de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"},"code_signature":{"trusted":true,"status":"trusted","subject_name":"Microsoft Windows"},"Ext":{"token":{"integrity_level_name":"system"}},"parent":{"pid":2816,"name":"ScreenConnect.Service.exe","executable":"C:\\Program Files (x86)\\ScreenConnect\\ScreenConnect.Service.exe"}}}`+"\n", i, 1000+i, i)
	}
	benchRead(b, []byte(sb.String()), "ecs", n)
}

func BenchmarkSysmonEVTX(b *testing.B) {
	good := peerEVTX(b)
	// 64 copies of the one-record chunk: Sysmon logs hold many records per
	// chunk, so this is the per-chunk worst case.
	in := append([]byte(nil), good[:evtxFileHeaderBytes]...)
	for i := 0; i < 64; i++ {
		in = append(in, good[evtxFileHeaderBytes:]...)
	}
	benchRead(b, in, "sysmon-evtx", 64)
}

// jsonLines is n records of one third-party format, one a line.
func jsonLines(b *testing.B, n int, rec func(int, string) map[string]any) []byte {
	b.Helper()
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		d, err := json.Marshal(rec(i, fmt.Sprintf(`"C:\Windows\system32\cmd.exe" /c echo %d > C:\Windows\Temp\out.txt`, i)))
		if err != nil {
			b.Fatal(err)
		}
		buf.Write(d)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkCrowdStrikeFDR includes the PeVersionInfo join: one version
// record per ten process starts.
func BenchmarkCrowdStrikeFDR(b *testing.B) {
	const n = 1000
	in := jsonLines(b, n, fdrRecord)
	var pv bytes.Buffer
	for i := 0; i < n/10; i++ {
		fmt.Fprintf(&pv, `{"event_simpleName":"PeVersionInfo","aid":"aid1","cid":"cid1","SHA256HashData":"%064x","OriginalFilename":"Cmd.Exe"}`+"\n", i)
	}
	benchRead(b, append(in, pv.Bytes()...), kindFDR, n)
}

func BenchmarkM365Defender(b *testing.B) {
	const n = 1000
	benchRead(b, jsonLines(b, n, m365Record), kindM365, n)
}

func BenchmarkSentinelOne(b *testing.B) {
	const n = 1000
	benchRead(b, jsonLines(b, n, s1Record), kindS1, n)
}
