// Package tables turns the extension's data (the event store, the
// ScreenConnect scanner) into tables: osquery table plugins served over
// thrift, and the same tables as SQLite virtual tables for standalone use.
//
// A table is a schema plus a generate function with osquery-go's signature,
// so both front ends hand it the same QueryContext and get the same rows.
package tables

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/schema"
)

// DefaultTimeout bounds one generate call. osquery on Windows sets no thrift
// timeout, so a table that never returned would hang osqueryd itself.
const DefaultTimeout = 15 * time.Second

// Table is one table of the extension.
type Table struct {
	Schema   *schema.Table
	Generate table.GenerateFunc
	// Values, when set, returns the same rows as Generate, each as its
	// values in Schema.Columns order. The standalone engine reads columns
	// by position and prefers it: building a map per row is most of what a
	// large result costs.
	Values ValuesFunc
}

// ValuesFunc generates rows as values in schema column order.
type ValuesFunc func(ctx context.Context, qc table.QueryContext) ([][]string, error)

// ErrTimeout is returned when a generate call outlives its bound.
var ErrTimeout = errors.New("table generate timed out")

// Bounded returns a generate function that gives up after timeout. The
// inner call gets a context that is cancelled then, so well-behaved
// generators stop working too; a generator that ignores it can no longer
// hold osquery's thread, only its own goroutine.
func Bounded(gen table.GenerateFunc, timeout time.Duration) table.GenerateFunc {
	return bounded(gen, timeout)
}

func bounded[R any](gen func(context.Context, table.QueryContext) (R, error), timeout time.Duration) func(context.Context, table.QueryContext) (R, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return func(ctx context.Context, qc table.QueryContext) (R, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		type result struct {
			rows R
			err  error
		}
		done := make(chan result, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- result{err: fmt.Errorf("table generate panicked: %v", p)}
				}
			}()
			rows, err := gen(ctx, qc)
			done <- result{rows, err}
		}()
		select {
		case r := <-done:
			return r.rows, r.err
		case <-ctx.Done():
			var zero R
			return zero, fmt.Errorf("%w after %s", ErrTimeout, timeout)
		}
	}
}

// Plugin returns the osquery table plugin for t, each generate bounded by
// timeout.
func (t Table) Plugin(timeout time.Duration) *table.Plugin {
	cols := make([]table.ColumnDefinition, 0, len(t.Schema.Columns))
	for _, c := range t.Schema.Columns {
		opts := []table.ColumnOpt{table.ColumnDescription(c.Description)}
		if c.Pushdown {
			// INDEX tells osquery's planner that constraints here are cheap.
			opts = append(opts, table.IndexColumn())
		}
		cols = append(cols, table.NewColumn(c.Name, table.ColumnType(c.Type), opts...))
	}
	return table.NewPlugin(t.Schema.Name, cols, Bounded(t.Generate, timeout),
		table.WithDescription(t.Schema.Description),
		table.WithPlatforms(table.WindowsPlatform, table.LinuxPlatform, table.DarwinPlatform))
}

// Specs returns osquery table specs (the JSON osquery's own spec files use)
// for the tables.
func Specs(ts []Table) []table.OsqueryTableSpec {
	specs := make([]table.OsqueryTableSpec, 0, len(ts))
	for _, t := range ts {
		specs = append(specs, t.Plugin(0).Spec())
	}
	return specs
}
