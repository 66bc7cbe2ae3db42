package store

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// BenchmarkAddAnswers measures hunt rows into the store: 100 hosts of 100
// process rows per transaction, the shape a fleet's answers arrive in.
func BenchmarkAddAnswers(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	row := func(i int) map[string]string {
		return map[string]string{"pid": fmt.Sprint(i), "name": "powershell.exe", "path": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			"cmdline": "powershell.exe -nop -w hidden -enc SQBFAFgA", "parent_name": "ScreenConnect.Service.exe", "time": "1700000000"}
	}
	batch := make([]HostAnswer, 100)
	for h := range batch {
		rows := make([]map[string]string, 100)
		for i := range rows {
			rows[i] = row(i)
		}
		batch[h] = HostAnswer{HostID: fmt.Sprintf("host-%04d", h), Status: "ok", Rows: rows}
	}
	total := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		for h := range batch {
			batch[h].HuntID = fmt.Sprint("hunt-", i)
		}
		n, err := s.AddAnswers(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkInsertAlerts measures create-only alert writes, 1000 per batch.
func BenchmarkInsertAlerts(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	total := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		batch := make([]Alert, 1000)
		for j := range batch {
			batch[j] = alert(fmt.Sprintf("%d-%d", i, j), "h1", time.Now())
		}
		n, err := s.InsertAlerts(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "alerts/s")
}

// BenchmarkRecordRuns measures one sweep's bookkeeping for 10k hosts: a
// run row and a watermark each, in one transaction.
func BenchmarkRecordRuns(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	now := time.Now()
	recs := make([]RunRecord, 10000)
	for i := range recs {
		recs[i] = RunRecord{Run: RuleRun{HostID: fmt.Sprintf("host-%05d", i), RuleID: "r1", From: now.Add(-9 * time.Minute), To: now,
			Started: now, Finished: now, Rows: 5, Matches: 5, Status: "ok"}, Advance: true}
	}
	for b.Loop() {
		if _, err := s.RecordRuns(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "runs/s")
}
