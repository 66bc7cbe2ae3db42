//go:build !windows

package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"scsweep/extension/events"
	"scsweep/extension/internal/cputime"
)

// BenchmarkGenerateThrift is the osqueryd path: a generate of 10k rows by a
// time window from a store of 1M events, through thrift to the real binary.
func BenchmarkGenerateThrift(b *testing.B) {
	const total, window = 1_000_000, 10_000
	db := filepath.Join(b.TempDir(), "events.db")
	base := time.Now().Add(-24 * time.Hour).Unix()
	s, err := events.Open(db, events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < total; i += 10_000 {
		evs := make([]*events.Event, 0, 10_000)
		for j := i; j < i+10_000; j++ {
			evs = append(evs, &events.Event{EID: "e" + strconv.Itoa(j), Time: base + int64(j/20), Source: "sysmon",
				PID: int64(j % 60000), HasPID: true, Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`,
				Cmdline: "svchost.exe -k netsvcs -p -s Schedule", ParentName: "services.exe", ParentPID: 640, HasParentPID: true,
				SHA256: "0f2ae3a1c5b8f6a2d90b1e7d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09", OSType: "windows"})
		}
		if _, err := s.Insert(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	ext, _ := startExtension(b, filepath.Join(shortDir(b), "osquery.em"), db)
	from := base + 10_000
	ctxJSON := constraintContext(map[string][][2]string{"time": {{"32", strconv.FormatInt(from, 10)}, {"16", strconv.FormatInt(from+window/20, 10)}}})
	b.ResetTimer()
	cpu := cputime.Report(b)
	extStart, extOK := cputime.Of(ext.cmd.Process.Pid)
	for i := 0; i < b.N; i++ {
		rows := ext.generate(b, "process_lineage_events", ctxJSON)
		if len(rows) != window {
			b.Fatalf("got %d rows, want %d", len(rows), window)
		}
	}
	cpu()
	// The extension's own CPU time: what a generate costs osqueryd's host
	// beyond the client's reading.
	if extEnd, ok := cputime.Of(ext.cmd.Process.Pid); ok && extOK {
		b.ReportMetric(float64(extEnd-extStart)/float64(time.Millisecond)/float64(b.N), "ext-cpu-ms/op")
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k-rows")
}
