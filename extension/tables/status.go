package tables

import (
	"context"
	"fmt"
	"strconv"

	"github.com/osquery/osquery-go/plugin/table"

	"scsweep/extension/events"
	"scsweep/extension/live"
	"scsweep/extension/schema"
)

// NotCollecting is the reason given for the live sources when the running
// command collects nothing live (query, for instance).
const NotCollecting = "live collection runs in scsweep.ext serve, not in this command"

// Status serves scsweep_status. sources returns the live sources' state;
// nil, or a nil result, means this process collects nothing live.
func Status(store *events.Store, sources func() []live.Status) Table {
	return Table{
		Schema: &schema.ScsweepStatus,
		Generate: func(ctx context.Context, _ table.QueryContext) ([]map[string]string, error) {
			return statusRows(ctx, store, sources)
		},
	}
}

func statusRows(ctx context.Context, store *events.Store, sources func() []live.Status) ([]map[string]string, error) {
	var st []live.Status
	if sources != nil {
		st = sources()
	}
	if st == nil {
		for _, s := range []string{live.SourceSysmon, live.SourceSecurity, live.SourceETW} {
			st = append(st, live.Status{Source: s, Reason: NotCollecting})
		}
	}
	var total, oldest, size int64
	if store != nil {
		var err error
		if total, err = store.Count(ctx); err != nil {
			return nil, fmt.Errorf("scsweep_status: %w", err)
		}
		if oldest, err = store.Oldest(ctx); err != nil {
			return nil, fmt.Errorf("scsweep_status: %w", err)
		}
		if size, err = dbBytes(ctx, store); err != nil {
			return nil, err
		}
	}
	row := func(s live.Status) map[string]string {
		r := map[string]string{
			"source":       s.Source,
			"active":       "0",
			"reason":       s.Reason,
			"collected":    strconv.FormatInt(s.Events, 10),
			"skipped":      strconv.FormatInt(s.Skipped, 10),
			"last_error":   s.LastErr,
			"last_write":   "",
			"store_events": strconv.FormatInt(total, 10),
			"store_oldest": "",
			"store_bytes":  strconv.FormatInt(size, 10),
		}
		if s.Active {
			r["active"] = "1"
		}
		if !s.LastAt.IsZero() {
			r["last_write"] = strconv.FormatInt(s.LastAt.Unix(), 10)
		}
		if oldest > 0 {
			r["store_oldest"] = strconv.FormatInt(oldest, 10)
		}
		return r
	}
	rows := make([]map[string]string, 0, len(st))
	for _, s := range st {
		rows = append(rows, row(s))
	}
	return rows, nil
}

// dbBytes is the database's size: pages times page size.
func dbBytes(ctx context.Context, store *events.Store) (int64, error) {
	var pages, size int64
	if err := store.DB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, fmt.Errorf("scsweep_status: page_count: %w", err)
	}
	if err := store.DB().QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return 0, fmt.Errorf("scsweep_status: page_size: %w", err)
	}
	return pages * size, nil
}
