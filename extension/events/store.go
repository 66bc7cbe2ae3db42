package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Retention defaults: what a host keeps when its config says nothing. Thirty
// days covers the sweeper's longest offline gap we plan for; 1 GiB holds
// roughly three million events.
const (
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxBytes = 1 << 30
)

// Options configure a Store.
type Options struct {
	// MaxAge drops events stored more than MaxAge ago. Age counts from when
	// the store took the event, not from its start time, so evidence
	// imported from last year's logs is kept as long as today's.
	// Zero means DefaultMaxAge; negative disables age retention.
	MaxAge time.Duration
	// MaxBytes bounds the database file; the oldest events go first.
	// Zero means DefaultMaxBytes; negative disables size retention.
	MaxBytes int64
}

// Store is the local event store: one SQLite file in WAL mode whose events
// table has exactly the columns of process_lineage_events, so a row comes out
// as it went in. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	opts Options
	now  func() time.Time
	// Lineage looks a parent up for nearly every event it ingests;
	// parsing each lookup's SQL again cost more than running it.
	byEntity, latest, after *sql.Stmt
}

// The events table keeps the columns the store filters on, and the whole
// osquery row encoded in one blob: a query then reads one value per row
// instead of one per column, which is most of the cost of a generate.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS events (
		seq INTEGER PRIMARY KEY,
		eid TEXT NOT NULL,
		time INTEGER NOT NULL,
		pid INTEGER,
		entity_id TEXT NOT NULL,
		name TEXT NOT NULL,
		parent_name TEXT NOT NULL,
		stored INTEGER NOT NULL,
		row BLOB NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS events_stored ON events(stored)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS events_eid ON events(eid)`,
	`CREATE INDEX IF NOT EXISTS events_time ON events(time)`,
	`CREATE INDEX IF NOT EXISTS events_pid_time ON events(pid, time)`,
	`CREATE INDEX IF NOT EXISTS events_entity ON events(entity_id) WHERE entity_id <> ''`,
	`CREATE INDEX IF NOT EXISTS events_parent_name ON events(parent_name COLLATE NOCASE, time)`,
	`CREATE INDEX IF NOT EXISTS events_name ON events(name COLLATE NOCASE, time)`,
	`CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
}

// Open opens (creating when needed) the store at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "auto_vacuum(INCREMENTAL)", "foreign_keys(ON)",
		// A statement that inserts many rows keeps a statement journal to
		// undo itself; in memory it costs no file writes. Committed data is
		// still written and synced exactly as before.
		"temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("events: open %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; readers share WAL snapshots.
	db.SetMaxOpenConns(4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range migrations {
		if _, err := db.ExecContext(ctx, m); err != nil {
			db.Close()
			return nil, fmt.Errorf("events: migrate %s: %w", path, err)
		}
	}
	s := &Store{db: db, opts: opts, now: time.Now}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&s.byEntity, byEntityIDSQL}, {&s.latest, latestStartSQL}, {&s.after, startsAfterSQL}} {
		if *p.dst, err = db.PrepareContext(ctx, p.sql); err != nil {
			s.Close()
			return nil, fmt.Errorf("events: prepare %s: %w", path, err)
		}
	}
	return s, nil
}

// DB is the store's database, for packages that keep their own small tables
// beside the events (first-seen times of ScreenConnect users, bookmarks).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.byEntity, s.latest, s.after} {
		if st != nil {
			st.Close()
		}
	}
	return s.db.Close()
}

// insertChunk is how many events one INSERT statement carries: stepping one
// statement per event cost more than the B-tree work, and 64 rows of 8
// parameters stay far below SQLite's parameter limit.
const insertChunk = 64

const insertHead = "INSERT INTO events (eid, time, pid, entity_id, name, parent_name, stored, row) VALUES "
const insertTail = " ON CONFLICT(eid) DO NOTHING"

func insertSQL(n int) string {
	return insertHead + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ") + insertTail
}

var insertFull = insertSQL(insertChunk)

// Insert adds events, skipping any whose EID the store already has, and
// returns how many were new. The whole batch commits or none of it does.
func (s *Store) Insert(ctx context.Context, evs []*Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	for _, ev := range evs {
		if ev.EID == "" {
			return 0, errors.New("events: insert: event without eid")
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("events: insert: %w", err)
	}
	defer tx.Rollback()
	var full *sql.Stmt
	if len(evs) >= insertChunk {
		if full, err = tx.PrepareContext(ctx, insertFull); err != nil {
			return 0, fmt.Errorf("events: insert: %w", err)
		}
		defer full.Close()
	}
	added := 0
	stored := s.now().Unix()
	// Each chunk's rows are encoded into one buffer; the driver copies the
	// blobs when binding, so the buffer is reused by the next chunk.
	var buf []byte
	args := make([]any, 0, 8*insertChunk)
	ends := make([]int, 0, insertChunk)
	for len(evs) > 0 {
		chunk := evs[:min(len(evs), insertChunk)]
		evs = evs[len(chunk):]
		buf, args, ends = buf[:0], args[:0], ends[:0]
		for _, ev := range chunk {
			ev.Ingested = stored
			buf = encodeEvent(buf, ev)
			ends = append(ends, len(buf))
		}
		from := 0
		for i, ev := range chunk {
			args = append(args, ev.EID, ev.Time, nullInt(ev.PID, ev.HasPID), ev.EntityID, ev.Name, ev.ParentName, stored, buf[from:ends[i]:ends[i]])
			from = ends[i]
		}
		var res sql.Result
		if len(chunk) == insertChunk {
			res, err = full.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, insertSQL(len(chunk)), args...)
		}
		if err != nil {
			return 0, fmt.Errorf("events: insert %s..%s: %w", chunk[0].EID, chunk[len(chunk)-1].EID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			added += int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("events: insert commit: %w", err)
	}
	return added, nil
}

func nullInt(v int64, known bool) any {
	if !known {
		return nil
	}
	return v
}

// Op is a comparison the store can evaluate for a pushed-down constraint.
type Op string

// The operators osquery hands to a table that the store applies itself.
const (
	OpEq   Op = "="
	OpGt   Op = ">"
	OpGe   Op = ">="
	OpLt   Op = "<"
	OpLe   Op = "<="
	OpLike Op = "LIKE"
	OpIn   Op = "IN"
)

// Constraint narrows a query on one column. Value (Values for OpIn) is the
// expression as osquery passes it: always a string, converted to the
// column's type here.
type Constraint struct {
	Column string
	Op     Op
	Value  string
	Values []string
}

// Filterable lists the columns whose constraints the store evaluates.
var Filterable = map[string]bool{"time": true, "ingested": true, "eid": true, "pid": true, "name": true, "parent_name": true}

// storeColumn maps a filterable table column to the events table's column.
var storeColumn = map[string]string{"ingested": "stored"}

// Filter is a conjunction of constraints plus an optional row limit. The
// store may return more than a filter asks, never less: name and
// parent_name compare case-insensitively (a query may use COLLATE NOCASE,
// which osquery does not pass to a table), and osquery filters again.
type Filter struct {
	Constraints []Constraint
	Limit       int
}

func (f Filter) where() (string, []any, error) {
	if len(f.Constraints) == 0 {
		return "", nil, nil
	}
	parts := make([]string, 0, len(f.Constraints))
	args := make([]any, 0, len(f.Constraints))
	for _, c := range f.Constraints {
		if !Filterable[c.Column] {
			return "", nil, fmt.Errorf("events: column %q cannot be filtered by the store", c.Column)
		}
		numeric := c.Column == "time" || c.Column == "pid" || c.Column == "ingested"
		switch c.Op {
		case OpEq, OpIn:
		case OpGt, OpGe, OpLt, OpLe:
			// Ranges on names would depend on collation; only numbers get them.
			if !numeric {
				return "", nil, fmt.Errorf("events: range constraint on text column %s", c.Column)
			}
		case OpLike:
			if numeric {
				return "", nil, fmt.Errorf("events: LIKE on numeric column %s", c.Column)
			}
		default:
			return "", nil, fmt.Errorf("events: operator %q not supported", c.Op)
		}
		values := c.Values
		if c.Op != OpIn {
			values = []string{c.Value}
		}
		if len(values) == 0 {
			return "", nil, fmt.Errorf("events: %s IN needs at least one value", c.Column)
		}
		for _, s := range values {
			if !numeric {
				args = append(args, s)
				continue
			}
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return "", nil, fmt.Errorf("events: constraint %s %s %q: not a number", c.Column, c.Op, s)
			}
			args = append(args, n)
		}
		col := c.Column
		if sc, ok := storeColumn[col]; ok {
			col = sc
		}
		if c.Column == "name" || c.Column == "parent_name" {
			col += " COLLATE NOCASE" // and the NOCASE index serves it
		}
		if c.Op == OpIn {
			parts = append(parts, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")+")")
		} else {
			parts = append(parts, col+" "+string(c.Op)+" ?")
		}
	}
	return " WHERE " + strings.Join(parts, " AND "), args, nil
}

// Rows calls fn for each event matching f, in start-time order, as an
// osquery row (every column present, values as strings, unknown empty). Each
// row is a fresh map that fn may keep.
func (s *Store) Rows(ctx context.Context, f Filter, fn func(map[string]string) error) error {
	return read(ctx, s, f, decodeRow, fn)
}

// Values is Rows without the map: each row's values in the order of
// schema.ProcessLineageEvents' columns, a fresh slice that fn may keep.
// Readers that know the columns by position (SQLite's virtual tables) are
// spared building a map per row, most of what reading a row costs.
func (s *Store) Values(ctx context.Context, f Filter, fn func([]string) error) error {
	return read(ctx, s, f, decodeValues, fn)
}

// read runs f's query and hands fn each row as decode renders it.
func read[R any](ctx context.Context, s *Store, f Filter, decode func([]byte) (R, error), fn func(R) error) error {
	where, args, err := f.where()
	if err != nil {
		return err
	}
	q := "SELECT row FROM events" + where + " ORDER BY time, seq"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("events: query: %w", err)
	}
	defer rows.Close()
	var blob sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("events: scan: %w", err)
		}
		row, err := decode(blob)
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("events: query: %w", err)
	}
	return nil
}

// Count returns how many events the store holds.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n)
	return n, err
}

// Oldest returns the start time of the oldest event kept, 0 when empty: the
// sweeper cannot recover a gap older than this.
func (s *Store) Oldest(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT min(time) FROM events").Scan(&n)
	return n.Int64, err
}
