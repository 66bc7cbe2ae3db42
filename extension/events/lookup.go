package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ByEntityID returns the start event of the process with the given entity
// id, or nil when the store has none.
func (s *Store) ByEntityID(ctx context.Context, id string) (*Event, error) {
	if id == "" {
		return nil, nil
	}
	return s.one(ctx, s.byEntity, id)
}

// The entity index is partial (most sources have no entity ids), and
// SQLite uses a partial index only when the query repeats its condition:
// without "entity_id <> ”" every lookup scanned the whole table.
const (
	byEntityIDSQL  = "SELECT row FROM events WHERE entity_id = ? AND entity_id <> '' ORDER BY time DESC, seq DESC LIMIT 1"
	latestStartSQL = "SELECT row FROM events WHERE pid = ? AND time <= ? ORDER BY time DESC, seq DESC LIMIT 1"
	startsAfterSQL = "SELECT row FROM events WHERE pid = ? AND time > ? AND time <= ? ORDER BY time, seq LIMIT 1"
)

// LatestStart returns the most recent start of pid at or before notAfter
// (unix seconds), or nil. Lineage uses it for sources without entity ids.
func (s *Store) LatestStart(ctx context.Context, pid int64, notAfter int64) (*Event, error) {
	return s.one(ctx, s.latest, pid, notAfter)
}

// StartsAfter returns the first start of pid strictly after t and at or
// before notAfter, or nil: a later start of the same pid proves the earlier
// process was gone by then.
func (s *Store) StartsAfter(ctx context.Context, pid int64, t, notAfter int64) (*Event, error) {
	return s.one(ctx, s.after, pid, t, notAfter)
}

func (s *Store) one(ctx context.Context, stmt *sql.Stmt, args ...any) (*Event, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("events: query: %w", err)
	}
	defer rows.Close()
	var ev *Event
	if rows.Next() {
		if ev, err = scanEvent(rows); err != nil {
			return nil, err
		}
	}
	return ev, rows.Err()
}

func scanEvent(rows *sql.Rows) (*Event, error) {
	var blob sql.RawBytes
	if err := rows.Scan(&blob); err != nil {
		return nil, fmt.Errorf("events: scan: %w", err)
	}
	row, err := decodeRow(blob)
	if err != nil {
		return nil, err
	}
	return FromRow(row)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// Prune applies retention: events stored before now-MaxAge go, then the
// earliest stored go until the file fits MaxBytes. It returns how many
// events were removed.
func (s *Store) Prune(ctx context.Context, now time.Time) (int64, error) {
	var removed int64
	if s.opts.MaxAge > 0 {
		res, err := s.db.ExecContext(ctx, "DELETE FROM events WHERE stored < ?", now.Add(-s.opts.MaxAge).Unix())
		if err != nil {
			return 0, fmt.Errorf("events: prune by age: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if s.opts.MaxBytes > 0 {
		for i := 0; i < 64; i++ {
			used, err := s.usedBytes(ctx)
			if err != nil {
				return removed, err
			}
			if used <= s.opts.MaxBytes {
				break
			}
			total, err := s.Count(ctx)
			if err != nil || total == 0 {
				return removed, err
			}
			// Drop the oldest tenth (at least one row) and measure again:
			// rows differ in size, so a computed count would be a guess.
			drop := total/10 + 1
			res, err := s.db.ExecContext(ctx, "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)", drop)
			if err != nil {
				return removed, fmt.Errorf("events: prune by size: %w", err)
			}
			n, _ := res.RowsAffected()
			removed += n
		}
	}
	if removed > 0 {
		if _, err := s.db.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
			return removed, fmt.Errorf("events: vacuum: %w", err)
		}
	}
	return removed, nil
}

// usedBytes is the space the database's live pages take, which is what
// retention bounds; free pages are handed back by incremental vacuum.
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, fmt.Errorf("events: page_count: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
		return 0, fmt.Errorf("events: freelist_count: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return 0, fmt.Errorf("events: page_size: %w", err)
	}
	return (pages - free) * size, nil
}

// Get returns a small value the extension keeps beside its events (an Event
// Log bookmark, say); "" when unset.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("events: get %s: %w", key, err)
	}
	return v, nil
}

// Set stores a small value under key.
func (s *Store) Set(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", key, value)
	if err != nil {
		return fmt.Errorf("events: set %s: %w", key, err)
	}
	return nil
}
