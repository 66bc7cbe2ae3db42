package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Hunt is one ad hoc query to the fleet.
type Hunt struct {
	ID       string
	SQL      string
	Created  time.Time
	Deadline time.Time
	Finished time.Time
	Targeted int
	Status   string // running, done
}

// HostAnswer is what one host answered to a hunt.
type HostAnswer struct {
	HuntID   string
	HostID   string
	Status   string
	Error    string
	Rows     []map[string]string
	RowCount int // filled when reading; on write len(Rows) is stored
	WallMS   int64
	Finished time.Time
}

// CreateHunt records a hunt before it is pushed.
func (s *Store) CreateHunt(ctx context.Context, h Hunt) error {
	if h.Status == "" {
		h.Status = "running"
	}
	return s.write(ctx, "create hunt "+h.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO hunts (id, sql, created, deadline, finished, targeted, status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			h.ID, h.SQL, ms(h.Created), ms(h.Deadline), ms(h.Finished), h.Targeted, h.Status)
		return err
	})
}

// AddAnswers stores host answers, rows included, in one transaction. A host
// that answers again (a re-delivered query) replaces its earlier answer, so
// no row is stored twice.
func (s *Store) AddAnswers(ctx context.Context, answers []HostAnswer) (rows int, err error) {
	if len(answers) == 0 {
		return 0, nil
	}
	err = s.write(ctx, "add hunt answers", func(tx *sql.Tx) error {
		rows = 0
		// A first answer is one INSERT; only a host answering again (a
		// re-delivered query) pays for replacing its earlier rows.
		first, err := tx.PrepareContext(ctx, `INSERT INTO hunt_hosts (hunt_id, host_id, status, error, rows, wall_ms, finished) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (hunt_id, host_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer first.Close()
		again, err := tx.PrepareContext(ctx, `UPDATE hunt_hosts SET status = ?3, error = ?4, rows = ?5, wall_ms = ?6, finished = ?7 WHERE hunt_id = ?1 AND host_id = ?2`)
		if err != nil {
			return err
		}
		defer again.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM hunt_rows WHERE hunt_id = ? AND host_id = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO hunt_rows (hunt_id, host_id, row) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		var buf []byte
		for _, a := range answers {
			if a.HuntID == "" || a.HostID == "" {
				return errors.New("answer without hunt or host id")
			}
			args := []any{a.HuntID, a.HostID, a.Status, a.Error, len(a.Rows), a.WallMS, ms(a.Finished)}
			res, err := first.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if _, err := again.ExecContext(ctx, args...); err != nil {
					return err
				}
				if _, err := del.ExecContext(ctx, a.HuntID, a.HostID); err != nil {
					return err
				}
			}
			for _, r := range a.Rows {
				buf, err = appendRowJSON(buf[:0], r)
				if err != nil {
					return err
				}
				if _, err := ins.ExecContext(ctx, a.HuntID, a.HostID, buf); err != nil {
					return err
				}
				rows++
			}
		}
		return nil
	})
	return rows, err
}

func appendRowJSON(buf []byte, r map[string]string) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

// FinishHunt marks a hunt done.
func (s *Store) FinishHunt(ctx context.Context, id, status string, at time.Time) error {
	return s.write(ctx, "finish hunt "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE hunts SET status = ?, finished = ? WHERE id = ?`, status, ms(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("hunt %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// GetHunt returns one hunt, or ErrNotFound.
func (s *Store) GetHunt(ctx context.Context, id string) (Hunt, error) {
	var h Hunt
	var c, d, f int64
	err := s.db.QueryRowContext(ctx, `SELECT id, sql, created, deadline, finished, targeted, status FROM hunts WHERE id = ?`, id).
		Scan(&h.ID, &h.SQL, &c, &d, &f, &h.Targeted, &h.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return Hunt{}, fmt.Errorf("store: hunt %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Hunt{}, fmt.Errorf("store: hunt %s: %w", id, err)
	}
	h.Created, h.Deadline, h.Finished = fromMS(c), fromMS(d), fromMS(f)
	return h, nil
}

// HuntAnswers returns each host's answer to a hunt (without rows), by host.
func (s *Store) HuntAnswers(ctx context.Context, huntID string) ([]HostAnswer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT host_id, status, error, rows, wall_ms, finished FROM hunt_hosts WHERE hunt_id = ? ORDER BY host_id`, huntID)
	if err != nil {
		return nil, fmt.Errorf("store: hunt %s answers: %w", huntID, err)
	}
	defer rows.Close()
	var out []HostAnswer
	for rows.Next() {
		a := HostAnswer{HuntID: huntID}
		var f int64
		if err := rows.Scan(&a.HostID, &a.Status, &a.Error, &a.RowCount, &a.WallMS, &f); err != nil {
			return nil, fmt.Errorf("store: hunt %s answers: %w", huntID, err)
		}
		a.Finished = fromMS(f)
		out = append(out, a)
	}
	return out, rows.Err()
}

// HuntRows calls fn for every stored row of a hunt, by host then arrival.
func (s *Store) HuntRows(ctx context.Context, huntID string, fn func(hostID string, row map[string]string) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT host_id, row FROM hunt_rows WHERE hunt_id = ? ORDER BY host_id, rowid`, huntID)
	if err != nil {
		return fmt.Errorf("store: hunt %s rows: %w", huntID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var host string
		var raw []byte
		if err := rows.Scan(&host, &raw); err != nil {
			return fmt.Errorf("store: hunt %s rows: %w", huntID, err)
		}
		var r map[string]string
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("store: hunt %s row of %s: %w", huntID, host, err)
		}
		if err := fn(host, r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Hunts returns the most recent hunts, newest first (all when limit ≤ 0).
func (s *Store) Hunts(ctx context.Context, limit int) ([]Hunt, error) {
	q := `SELECT id, sql, created, deadline, finished, targeted, status FROM hunts ORDER BY created DESC, id`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: hunts: %w", err)
	}
	defer rows.Close()
	var out []Hunt
	for rows.Next() {
		var h Hunt
		var c, d, f int64
		if err := rows.Scan(&h.ID, &h.SQL, &c, &d, &f, &h.Targeted, &h.Status); err != nil {
			return nil, fmt.Errorf("store: hunts: %w", err)
		}
		h.Created, h.Deadline, h.Finished = fromMS(c), fromMS(d), fromMS(f)
		out = append(out, h)
	}
	return out, rows.Err()
}
