package pe

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"scsweep/extension/events"
)

// benchFiles returns the 1 MB signed and timestamped fixture and a 50 MB
// PE made in the benchmark's temporary directory: the unsigned fixture with
// an overlay, as installers and self-extracting payloads carry.
func benchFiles(b *testing.B) map[string]string {
	b.Helper()
	small := fixture(b, "signed-ts-amd64.exe")
	data, err := os.ReadFile(fixture(b, "unsigned-amd64.exe"))
	if err != nil {
		b.Fatal(err)
	}
	big := make([]byte, 50<<20)
	copy(big, data)
	for i := len(data); i < len(big); i++ {
		big[i] = byte(i * 31)
	}
	bigPath := filepath.Join(b.TempDir(), "big.exe")
	if err := os.WriteFile(bigPath, big, 0o644); err != nil {
		b.Fatal(err)
	}
	return map[string]string{"1MB": small, "50MB": bigPath}
}

// BenchmarkEnrich measures enrichment of one process start: cold is a cache
// miss (the file is read, hashed, parsed and verified), warm a cache hit
// (one stat). Isolated runs through the worker subprocess, as the extension
// does.
func BenchmarkEnrich(b *testing.B) {
	files := benchFiles(b)
	iso, err := NewIsolated(Config{RootsFile: fixtureRoots(b), Command: testConfig(nil).Command})
	if err != nil {
		b.Fatal(err)
	}
	defer iso.Close()
	analyzers := map[string]Analyzer{
		"isolated":   iso,
		"in-process": InProcess(fixtureOptions(b)),
	}
	ctx := context.Background()
	for _, size := range []string{"1MB", "50MB"} {
		path := files[size]
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"isolated", "in-process"} {
			b.Run("cold/"+size+"/"+mode, func(b *testing.B) {
				b.SetBytes(st.Size())
				for b.Loop() {
					e := NewEnricher(analyzers[mode], 16)
					ev := events.Event{Path: path}
					if err := e.Enrich(ctx, &ev); err != nil || ev.SHA256 == "" {
						b.Fatalf("enrich: %v (sha256 %q)", err, ev.SHA256)
					}
				}
			})
		}
		b.Run("warm/"+size, func(b *testing.B) {
			e := NewEnricher(iso, 16)
			if _, err := e.Identify(ctx, path); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				ev := events.Event{Path: path}
				if err := e.Enrich(ctx, &ev); err != nil || ev.SHA256 == "" {
					b.Fatalf("enrich: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
