package screenconnect

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// firstSeenSchema is the scanner's own table in the extension's store. It
// keeps one row per (install, user) ever seen, so an administrator that
// appears between two sweeps stands out by its first_seen.
const firstSeenSchema = `CREATE TABLE IF NOT EXISTS screenconnect_first_seen (
	root       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (root, name)
) WITHOUT ROWID`

// InitFirstSeen creates the first-seen table in db when it is missing.
func InitFirstSeen(db *sql.DB) error {
	if _, err := db.Exec(firstSeenSchema); err != nil {
		return fmt.Errorf("screenconnect first seen: create table: %w", err)
	}
	return nil
}

// FirstSeen records when each user of each install was first seen.
type FirstSeen struct {
	db *sql.DB
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewFirstSeen returns a FirstSeen over a store prepared by InitFirstSeen.
func NewFirstSeen(db *sql.DB) *FirstSeen { return &FirstSeen{db: db} }

// Record notes the users of the install at root as seen now, unless they
// were seen before, and returns each one's first-seen time. Roots compare
// case-insensitively, as Windows paths do; names compare exactly, since a
// user "Admin" beside "admin" is a new identity worth seeing.
func (f *FirstSeen) Record(ctx context.Context, root string, names []string) (map[string]time.Time, error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	ts := now().Unix()
	key := pathKey(root)
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("screenconnect first seen: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO screenconnect_first_seen (root, name, first_seen) VALUES (?, ?, ?) ON CONFLICT (root, name) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("screenconnect first seen: %w", err)
	}
	defer ins.Close()
	sel, err := tx.PrepareContext(ctx, `SELECT first_seen FROM screenconnect_first_seen WHERE root = ? AND name = ?`)
	if err != nil {
		return nil, fmt.Errorf("screenconnect first seen: %w", err)
	}
	defer sel.Close()
	out := make(map[string]time.Time, len(names))
	for _, n := range names {
		if _, err := ins.ExecContext(ctx, key, n, ts); err != nil {
			return nil, fmt.Errorf("screenconnect first seen: record %q: %w", n, err)
		}
		var first int64
		if err := sel.QueryRowContext(ctx, key, n).Scan(&first); err != nil {
			return nil, fmt.Errorf("screenconnect first seen: read %q: %w", n, err)
		}
		out[n] = time.Unix(first, 0).UTC()
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("screenconnect first seen: commit: %w", err)
	}
	return out, nil
}
