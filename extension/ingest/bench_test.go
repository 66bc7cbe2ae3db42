package ingest

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"scsweep/extension/events"
	"scsweep/extension/internal/cputime"
	"scsweep/extension/pe"
)

// benchImages unpacks the PE fixtures into dir under the names a Windows
// host runs them as, so enrichment reads, hashes and caches real files.
func benchImages(b *testing.B, dir string) map[string]string {
	b.Helper()
	names := map[string]string{
		"services.exe": "signed-ts-amd64.exe", "svchost.exe": "signed-amd64.exe",
		"ScreenConnect.Service.exe": "signed-386.exe", "cmd.exe": "unsigned-amd64.exe",
		"conhost.exe": "notepad.exe", "whoami.exe": "unsigned-386.exe", "powershell.exe": "expired-ts-amd64.exe",
	}
	paths := map[string]string{}
	for as, fixture := range names {
		f, err := os.Open(repoFile(b, filepath.Join("testdata", "pe", fixture+".gz")))
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, as)
		out, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, zr); err != nil {
			b.Fatal(err)
		}
		out.Close()
		f.Close()
		paths[as] = p
	}
	return paths
}

// benchBatch is one batch of a busy ScreenConnect server's process starts:
// long-lived parents already in the store spawn children, and some of the
// children spawn their own in the same batch. A third come as Sysmon gives
// them (entity ids, hashes, OriginalFileName), a third as Security 4688
// (parent pid and path only) and a third as ETW (parent pid alone).
func benchBatch(n, batch int, t0 int64, img map[string]string) []*events.Event {
	evs := make([]*events.Event, 0, n)
	for i := 0; i < n; i++ {
		seq := batch*n + i
		ev := &events.Event{EID: "b" + strconv.Itoa(seq), Time: t0 + int64(seq/10), PID: int64(10_000 + seq%50_000), HasPID: true, OSType: "windows"}
		// Long-lived parents, stored beforehand: pids 600..699.
		parent := int64(600 + seq%100)
		name := "svchost.exe"
		switch {
		case i%4 == 3 && i > 0:
			// a child of the previous event, started in this batch
			parent, name = evs[i-1].PID, "conhost.exe"
		case seq%7 == 0:
			name = "cmd.exe"
		case seq%11 == 0:
			name = "whoami.exe"
		}
		ev.Name, ev.Path, ev.Cmdline = name, img[name], name+" /c "+strconv.Itoa(seq)
		ev.ParentPID, ev.HasParentPID = parent, true
		switch seq % 3 {
		case 0:
			ev.Source = "sysmon"
			ev.EntityID = "{" + strconv.Itoa(seq) + "}"
			if parent >= 10_000 {
				ev.ParentEntityID = evs[i-1].EntityID
			} else {
				ev.ParentEntityID = "{p" + strconv.FormatInt(parent, 10) + "}"
			}
			ev.SHA256, ev.MD5, ev.SHA1, ev.PEOriginalFileName = "aa", "bb", "cc", name
		case 1:
			ev.Source = "security"
			ev.ParentPath = img["ScreenConnect.Service.exe"]
			if parent >= 10_000 {
				ev.ParentPath = evs[i-1].Path
			}
		default:
			ev.Source = "etw"
		}
		evs = append(evs, ev)
	}
	return evs
}

// BenchmarkPipelineWrite is ingest as the agent does it: PE identity from a
// warm cache, lineage from the batch and the store, then the insert.
// cpu-ms/op is per batch of 1000 events.
func BenchmarkPipelineWrite(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	img := benchImages(b, dir)
	s, err := events.Open(filepath.Join(dir, "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const t0 = 1_700_000_000
	var parents []*events.Event
	for pid := int64(600); pid < 700; pid++ {
		name := "services.exe"
		if pid%2 == 0 {
			name = "ScreenConnect.Service.exe"
		}
		parents = append(parents, &events.Event{EID: "p" + strconv.FormatInt(pid, 10), Time: t0 - 3600, Source: "sysmon",
			PID: pid, HasPID: true, EntityID: "{p" + strconv.FormatInt(pid, 10) + "}", Name: name, Path: img[name],
			ParentPID: 4, HasParentPID: true, OSType: "windows"})
	}
	enr := pe.NewEnricher(pe.InProcess(nil), 0)
	p := &Pipeline{Store: s, Enrich: enr.Enrich}
	if _, err := p.Write(ctx, parents); err != nil {
		b.Fatal(err)
	}
	// Warm the cache and give the store some history to search.
	const n = 1000
	for i := 0; i < 20; i++ {
		if _, err := p.Write(ctx, benchBatch(n, i, t0, img)); err != nil {
			b.Fatal(err)
		}
	}
	batches := make([][]*events.Event, b.N)
	for i := range batches {
		batches[i] = benchBatch(n, 20+i, t0, img)
	}
	b.ResetTimer()
	cpu := cputime.Report(b)
	for i := 0; i < b.N; i++ {
		added, err := p.Write(ctx, batches[i])
		if err != nil {
			b.Fatal(err)
		}
		if added != n {
			b.Fatalf("got %d new, want %d", added, n)
		}
	}
	cpu()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	if hits, misses := enr.CacheStats(); misses > int64(len(img)) {
		b.Fatalf("PE cache: %d hits, %d misses; want at most %d misses", hits, misses, len(img))
	}
}
