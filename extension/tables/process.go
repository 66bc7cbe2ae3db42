package tables

import (
	"context"
	"fmt"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/events"
	"scsweep/extension/schema"
)

// DefaultMaxRows caps one generate of process_lineage_events. A query that
// would return more fails with a message asking for a time constraint,
// rather than silently returning part of the answer.
const DefaultMaxRows = 1_000_000

// ProcessLineageEvents serves the event store. maxRows <= 0 means
// DefaultMaxRows.
func ProcessLineageEvents(store *events.Store, maxRows int) Table {
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	return Table{
		Schema: &schema.ProcessLineageEvents,
		Generate: func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
			return collect(ctx, qc, maxRows, store.Rows)
		},
		Values: func(ctx context.Context, qc table.QueryContext) ([][]string, error) {
			return collect(ctx, qc, maxRows, store.Values)
		},
	}
}

// collect reads the rows qc asks for, in either shape the store gives.
func collect[R any](ctx context.Context, qc table.QueryContext, maxRows int, read func(context.Context, events.Filter, func(R) error) error) ([]R, error) {
	f := FilterFromContext(qc)
	f.Limit = maxRows + 1
	var rows []R
	err := read(ctx, f, func(r R) error {
		if len(rows) == maxRows {
			return fmt.Errorf("process_lineage_events: more than %d rows match; add a time constraint", maxRows)
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

var storeOps = map[table.Operator]events.Op{
	table.OperatorEquals:              events.OpEq,
	table.OperatorGreaterThan:         events.OpGt,
	table.OperatorGreaterThanOrEquals: events.OpGe,
	table.OperatorLessThan:            events.OpLt,
	table.OperatorLessThanOrEquals:    events.OpLe,
	table.OperatorLike:                events.OpLike,
}

// FilterFromContext turns the constraints osquery passes into a store
// filter. The store may return more rows than the constraints allow (osquery
// filters again), never fewer, so:
//   - only columns the store indexes are pushed down;
//   - several equalities on one column come from an IN list and are a union;
//   - the store compares names case-insensitively (see events.Filter);
//   - ranges are pushed only on numbers (time, ingested, pid).
func FilterFromContext(qc table.QueryContext) events.Filter {
	var f events.Filter
	for col, cl := range qc.Constraints {
		if !events.Filterable[col] {
			continue
		}
		var eqs []string
		for _, c := range cl.Constraints {
			op, ok := storeOps[c.Operator]
			if !ok {
				continue
			}
			if op == events.OpEq {
				eqs = append(eqs, c.Expression)
				continue
			}
			numeric := col == "time" || col == "pid" || col == "ingested"
			if op == events.OpLike && numeric || op != events.OpLike && !numeric {
				// SQLite derives ranges on text from LIKE; they depend on
				// collation, so only numeric ranges go to the store.
				continue
			}
			f.Constraints = append(f.Constraints, events.Constraint{Column: col, Op: op, Value: c.Expression})
		}
		switch {
		case len(eqs) == 1:
			f.Constraints = append(f.Constraints, events.Constraint{Column: col, Op: events.OpEq, Value: eqs[0]})
		case len(eqs) > 1:
			f.Constraints = append(f.Constraints, events.Constraint{Column: col, Op: events.OpIn, Values: eqs})
		}
	}
	return f
}
