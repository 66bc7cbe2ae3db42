// Package store keeps the sweeper's state in one SQLite file: enrolled
// hosts, rule runs and per-host watermarks, alerts, and hunts with their
// rows. Migrations are the numbered files of sql/schema, applied in order.
//
// The file runs in WAL mode: readers never block the single writer, and a
// committed transaction survives a crash of the process (synchronous=NORMAL
// trades only the last transactions before a power loss for speed). Writes
// go through one connection under a mutex, batched in transactions, so a
// fleet's worth of results costs a handful of commits, not one per row.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	sqlfiles "scsweep/sql"
)

// ErrNotFound is returned when a named host or hunt does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is the sweeper's database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB // readers
	wdb *sql.DB // the one writer connection
	mu  sync.Mutex
}

// Open opens (creating if needed) the database at path and applies any
// migrations it has not seen.
func Open(path string) (*Store, error) {
	dsn := func(txlock string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		if txlock != "" {
			q.Set("_txlock", txlock)
		}
		return "file:" + path + "?" + q.Encode()
	}
	wdb, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	if err := wdb.Ping(); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{wdb: wdb}
	if err := s.migrate(context.Background()); err != nil {
		wdb.Close()
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s.db = db
	return s, nil
}

// Close closes the database; everything committed is on disk.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.db.Close(), s.wdb.Close())
}

// migrate applies the schema files whose number is above the highest one
// recorded, each in its own transaction with its record.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := s.wdb.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	files, err := Migrations()
	if err != nil {
		return err
	}
	for _, m := range files {
		if m.Version <= have {
			continue
		}
		tx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`, m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Migration is one schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded schema files in order. A file not named
// NNNN_name.sql, or two with one number, is an error.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(sqlfiles.Schema, "schema")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration file %q not named NNNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("store: migrations %q and %q share number %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(sqlfiles.Schema, path.Join("schema", name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SchemaVersion returns the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// write runs fn in one write transaction.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", what, err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
