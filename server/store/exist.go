package store

import (
	"context"
	"fmt"
	"strings"
)

// AlertsExist says which of ids are stored alerts. A sweep asks before
// capping at max_signals, so an alert re-found by an overlapping window
// does not take the place of a new one.
func (s *Store) AlertsExist(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	const chunk = 500 // well under SQLite's bound on parameters
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		q := "SELECT id FROM alerts WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(part)), ",") + ")"
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("store: alerts exist: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: alerts exist: %w", err)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: alerts exist: %w", err)
		}
	}
	return out, nil
}
