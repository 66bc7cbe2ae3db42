package tables

import (
	"context"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/internal/cputime"
)

// BenchmarkEngineQuery is the standalone query rate: the rule's pre-filter
// over a 100k-event store, plus a full scan of a 10k time window.
func BenchmarkEngineQuery(b *testing.B) {
	s := newStore(b, 100_000)
	eng, err := NewEngine(ProcessLineageEvents(s, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	for _, q := range []struct{ name, sql string }{
		{"prefilter", "SELECT * FROM process_lineage_events WHERE parent_name LIKE 'screenconnect.service.exe' AND (name IN ('cmd.exe','powershell.exe','pwsh.exe','powershell_ise.exe','csc.exe') OR pe_original_file_name IN ('Cmd.Exe','PowerShell.EXE','pwsh.dll','powershell_ise.EXE','csc.exe'))"},
		{"window10k", "SELECT * FROM process_lineage_events WHERE time >= 1700050000 AND time < 1700060000"},
	} {
		b.Run(q.name, func(b *testing.B) {
			rows := 0
			cpu := cputime.Report(b)
			for i := 0; i < b.N; i++ {
				res, err := eng.Query(context.Background(), q.sql)
				if err != nil {
					b.Fatal(err)
				}
				rows += len(res.Rows)
			}
			cpu()
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkGenerate is the table's side of a thrift generate: 10k rows by a
// time window from a 100k-event store, as the maps osquery-go serializes.
func BenchmarkGenerate(b *testing.B) {
	s := newStore(b, 100_000)
	t := ProcessLineageEvents(s, 0)
	qc := table.QueryContext{Constraints: map[string]table.ConstraintList{"time": {Affinity: table.ColumnTypeBigInt, Constraints: []table.Constraint{
		{Operator: table.OperatorGreaterThanOrEquals, Expression: "1700050000"},
		{Operator: table.OperatorLessThan, Expression: "1700060000"},
	}}}}
	b.ResetTimer()
	cpu := cputime.Report(b)
	for i := 0; i < b.N; i++ {
		rows, err := t.Generate(context.Background(), qc)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) != 10_000 {
			b.Fatalf("got %d rows, want 10000", len(rows))
		}
	}
	cpu()
}
