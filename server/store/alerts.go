package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Alert is one alert: its ECS document plus the columns it is found by.
type Alert struct {
	ID        string // deterministic: the same event and rule always give the same id
	HostID    string
	RuleID    string
	Time      time.Time // the original event's time
	Severity  string
	RiskScore int
	Created   time.Time
	Doc       json.RawMessage
}

// RuleRun is one rule evaluated on one host over the window [From, To).
type RuleRun struct {
	ID       int64
	HostID   string
	RuleID   string
	From, To time.Time
	Started  time.Time
	Finished time.Time
	Rows     int // rows the host returned
	Matches  int // events the rule matched
	Dropped  int // matches beyond max_signals, counted not stored
	Status   string
	Error    string
	QueryMS  int64
	EvalMS   int64
}

// RunRecord is everything one host's run of a rule produces.
type RunRecord struct {
	Run    RuleRun
	Alerts []Alert
	// Advance moves the host's watermark for the rule to Run.To (never
	// backwards). A failed run leaves it, so the window is swept again.
	Advance bool
}

// RecordRuns stores runs, their alerts and watermarks atomically: after a
// crash either all of a batch is there or none of it, so a window is never
// marked swept without its alerts. Alerts are create-only: an alert whose
// id exists is left as it was. It returns how many alerts were new.
func (s *Store) RecordRuns(ctx context.Context, recs []RunRecord) (created int, err error) {
	err = s.write(ctx, "record runs", func(tx *sql.Tx) error {
		ins, err := insertAlerts(ctx, tx, collectAlerts(recs))
		if err != nil {
			return err
		}
		created = ins
		for _, rec := range recs {
			if rec.Run.HostID == "" || rec.Run.RuleID == "" {
				return errors.New("run without host or rule id")
			}
		}
		now := time.Now().UnixMilli()
		runs := &batchInsert{ctx: ctx, tx: tx, cols: 13,
			head: `INSERT INTO rule_runs (host_id, rule_id, window_from, window_to, started, finished, rows, matches, dropped, status, error, query_ms, eval_ms) VALUES `}
		marks := &batchInsert{ctx: ctx, tx: tx, cols: 4,
			head: `INSERT INTO watermarks (host_id, rule_id, swept_to, updated) VALUES `,
			tail: ` ON CONFLICT (host_id, rule_id) DO UPDATE SET swept_to = MAX(swept_to, excluded.swept_to), updated = excluded.updated`}
		defer runs.close()
		defer marks.close()
		for _, rec := range recs {
			r := rec.Run
			if err := runs.add(r.HostID, r.RuleID, ms(r.From), ms(r.To), ms(r.Started), ms(r.Finished), r.Rows, r.Matches, r.Dropped, r.Status, r.Error, r.QueryMS, r.EvalMS); err != nil {
				return err
			}
			if rec.Advance {
				if err := marks.add(r.HostID, r.RuleID, ms(r.To), now); err != nil {
					return err
				}
			}
		}
		if err := runs.flush(); err != nil {
			return err
		}
		return marks.flush()
	})
	return created, err
}

func collectAlerts(recs []RunRecord) []Alert {
	var out []Alert
	for _, r := range recs {
		out = append(out, r.Alerts...)
	}
	return out
}

// InsertAlerts writes alerts create-only in one transaction and returns how
// many were new.
func (s *Store) InsertAlerts(ctx context.Context, alerts []Alert) (created int, err error) {
	err = s.write(ctx, "insert alerts", func(tx *sql.Tx) error {
		created, err = insertAlerts(ctx, tx, alerts)
		return err
	})
	return created, err
}

func insertAlerts(ctx context.Context, tx *sql.Tx, alerts []Alert) (int, error) {
	if len(alerts) == 0 {
		return 0, nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO alerts (id, host_id, rule_id, time, severity, risk_score, created, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	created := 0
	now := time.Now()
	for _, a := range alerts {
		if a.ID == "" || a.HostID == "" || a.RuleID == "" {
			return 0, fmt.Errorf("alert %q without id, host or rule", a.ID)
		}
		if !json.Valid(a.Doc) {
			return 0, fmt.Errorf("alert %s: document is not JSON", a.ID)
		}
		c := a.Created
		if c.IsZero() {
			c = now
		}
		res, err := st.ExecContext(ctx, a.ID, a.HostID, a.RuleID, ms(a.Time), a.Severity, a.RiskScore, ms(c), string(a.Doc))
		if err != nil {
			return 0, fmt.Errorf("alert %s: %w", a.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			created++
		}
	}
	return created, nil
}

// AlertFilter selects alerts; zero fields select everything.
type AlertFilter struct {
	HostID   string
	RuleID   string
	Severity string
	Since    time.Time // original event time ≥ Since
	Limit    int
}

// Alerts returns matching alerts, newest event first.
func (s *Store) Alerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	var where []string
	var args []any
	if f.HostID != "" {
		where, args = append(where, "host_id = ?"), append(args, f.HostID)
	}
	if f.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, f.RuleID)
	}
	if f.Severity != "" {
		where, args = append(where, "severity = ?"), append(args, f.Severity)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, ms(f.Since))
	}
	q := `SELECT id, host_id, rule_id, time, severity, risk_score, created, doc FROM alerts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var t, c int64
		var doc string
		if err := rows.Scan(&a.ID, &a.HostID, &a.RuleID, &t, &a.Severity, &a.RiskScore, &c, &doc); err != nil {
			return nil, fmt.Errorf("store: alerts: %w", err)
		}
		a.Time, a.Created, a.Doc = fromMS(t), fromMS(c), json.RawMessage(doc)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return out, nil
}

// Watermark returns how far a rule has been swept on a host; ok is false
// when it never was.
func (s *Store) Watermark(ctx context.Context, hostID, ruleID string) (t time.Time, ok bool, err error) {
	var v int64
	err = s.db.QueryRowContext(ctx, `SELECT swept_to FROM watermarks WHERE host_id = ? AND rule_id = ?`, hostID, ruleID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: watermark %s/%s: %w", hostID, ruleID, err)
	}
	return fromMS(v), true, nil
}

// Watermarks returns every host's watermark for a rule.
func (s *Store) Watermarks(ctx context.Context, ruleID string) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT host_id, swept_to FROM watermarks WHERE rule_id = ?`, ruleID)
	if err != nil {
		return nil, fmt.Errorf("store: watermarks %s: %w", ruleID, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var h string
		var v int64
		if err := rows.Scan(&h, &v); err != nil {
			return nil, fmt.Errorf("store: watermarks %s: %w", ruleID, err)
		}
		out[h] = fromMS(v)
	}
	return out, rows.Err()
}

// RuleRuns returns a host's runs of a rule, newest first; empty ids select all.
func (s *Store) RuleRuns(ctx context.Context, hostID, ruleID string, limit int) ([]RuleRun, error) {
	q := `SELECT id, host_id, rule_id, window_from, window_to, started, finished, rows, matches, dropped, status, error, query_ms, eval_ms
		FROM rule_runs WHERE (?1 = '' OR host_id = ?1) AND (?2 = '' OR rule_id = ?2) ORDER BY started DESC, id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.db.QueryContext(ctx, q, hostID, ruleID)
	if err != nil {
		return nil, fmt.Errorf("store: rule runs: %w", err)
	}
	defer rows.Close()
	var out []RuleRun
	for rows.Next() {
		var r RuleRun
		var from, to, st, fin int64
		if err := rows.Scan(&r.ID, &r.HostID, &r.RuleID, &from, &to, &st, &fin, &r.Rows, &r.Matches, &r.Dropped, &r.Status, &r.Error, &r.QueryMS, &r.EvalMS); err != nil {
			return nil, fmt.Errorf("store: rule runs: %w", err)
		}
		r.From, r.To, r.Started, r.Finished = fromMS(from), fromMS(to), fromMS(st), fromMS(fin)
		out = append(out, r)
	}
	return out, rows.Err()
}
