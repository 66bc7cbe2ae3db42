package store

import (
	"context"
	"fmt"
	"strings"
	"time"
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

// AlertsExistSince is AlertsExist for alerts of one rule whose event times
// are all at or after since. When the rule has fewer alerts since then than
// ids to check (a sweep re-finding many matches, most never alerted
// because of max_signals), one scan of the (rule_id, time) index answers
// instead of a lookup per id; the count that decides is bounded by
// len(ids), so it never costs more than the lookups would.
func (s *Store) AlertsExistSince(ctx context.Context, ruleID string, since time.Time, ids []string) (map[string]bool, error) {
	if len(ids) == 0 {
		return map[string]bool{}, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM alerts WHERE rule_id = ? AND time >= ? LIMIT ?)`,
		ruleID, ms(since), len(ids)).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("store: alerts exist: %w", err)
	}
	if n >= len(ids) {
		return s.AlertsExist(ctx, ids)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM alerts WHERE rule_id = ? AND time >= ?`, ruleID, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: alerts exist: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: alerts exist: %w", err)
		}
		if want[id] {
			out[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: alerts exist: %w", err)
	}
	return out, nil
}
