package live

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"scsweep/extension/events"
	"scsweep/extension/ingest"
)

// BenchmarkEventLogToStore measures rendered Sysmon XML → rows → lineage →
// a real store, in batches of 256 as the Windows subscription delivers
// them. Every record's parent is absent from the store, the common case for
// a service started before collection.
func BenchmarkEventLogToStore(b *testing.B) {
	const n = 2000
	xmls := make([]string, n)
	for i := range xmls {
		xmls[i] = sysmonXML(i+1, cmdPath, scPath)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store, err := events.Open(filepath.Join(b.TempDir(), "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		log := newFakeLog()
		log.add(SysmonChannel, xmls...)
		p := &ingest.Pipeline{Store: store}
		c := New(Config{Log: log, Store: store, Write: p.Write, Wait: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		b.StartTimer()
		go func() { done <- c.Run(ctx) }()
		<-log.idle
		b.StopTimer()
		cancel()
		<-done
		if st := c.Status()[0]; st.Events != n {
			b.Fatalf("events: got %d, want %d", st.Events, n)
		}
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkKernelEvent(b *testing.B) {
	const create = filetimeUnixEpoch + 1708769731*10_000_000
	rec := KernelRecord{Version: 3, CommandLine: "cmd.exe /c whoami",
		Data: kernelData(3, 6120, 2816, create, systemLabel, `\Device\HarddiskVolume3\Windows\System32\cmd.exe`)}
	drives := map[string]string{`\Device\HarddiskVolume3`: "C:", `\Device\HarddiskVolume1`: "D:"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := kernelEvent(rec, drives); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
