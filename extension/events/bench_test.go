package events

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"scsweep/extension/internal/cputime"
)

// BenchmarkInsert measures store ingest in batches of 1000 events;
// cpu-ms/op is per batch.
func BenchmarkInsert(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "events.db"), Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 1000
	evs := make([]*Event, batch)
	b.ResetTimer()
	cpu := cputime.Report(b)
	for i := 0; i < b.N; i++ {
		for j := range evs {
			e := sample(j, int64(i*batch+j))
			e.EID = fmt.Sprintf("b%d-%d", i, j)
			evs[j] = e
		}
		if _, err := s.Insert(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	cpu()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
