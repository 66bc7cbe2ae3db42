package tables

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/osquery/osquery-go/plugin/table"
	"modernc.org/sqlite/vtab"

	"scsweep/extension/schema"
)

// Engine runs osquery SQL over the extension's own tables without osqueryd:
// each table is a SQLite virtual table whose constraints reach the table's
// generate function exactly as osqueryd would pass them, so standalone
// results and osquery results cannot differ.
//
// One engine holds one in-memory connection; queries run one at a time.
type Engine struct {
	mu     sync.Mutex
	db     *sql.DB
	conn   *sql.Conn
	id     int64
	tables map[string]Table
	// ctx of the running query: SQLite's cursor callbacks carry none.
	ctx context.Context
}

// Result is what a query returned: the column names in select order and the
// rows as osquery renders them (every value a string, NULL as "").
type Result struct {
	Columns []string
	Rows    [][]string
}

// Maps returns the rows as column → value maps, osquery's distributed shape.
func (r *Result) Maps() []map[string]string {
	out := make([]map[string]string, len(r.Rows))
	for i, row := range r.Rows {
		m := make(map[string]string, len(r.Columns))
		for j, c := range r.Columns {
			m[c] = row[j]
		}
		out[i] = m
	}
	return out
}

const moduleName = "scsweep_table"

var (
	registerOnce sync.Once
	registerErr  error
	engines      sync.Map // id → *Engine
	nextEngineID atomic.Int64
)

// NewEngine makes an engine serving ts.
func NewEngine(ts ...Table) (*Engine, error) {
	registerOnce.Do(func() { registerErr = vtab.RegisterModule(nil, moduleName, module{}) })
	if registerErr != nil {
		return nil, fmt.Errorf("tables: register module: %w", registerErr)
	}
	e := &Engine{id: nextEngineID.Add(1), tables: map[string]Table{}}
	for _, t := range ts {
		t.Generate = Bounded(t.Generate, DefaultTimeout)
		if t.Values != nil {
			t.Values = bounded(t.Values, DefaultTimeout)
		}
		e.tables[t.Schema.Name] = t
	}
	engines.Store(e.id, e)
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		engines.Delete(e.id)
		return nil, fmt.Errorf("tables: open engine: %w", err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		engines.Delete(e.id)
		return nil, fmt.Errorf("tables: open engine: %w", err)
	}
	e.db, e.conn = db, conn
	for name := range e.tables {
		stmt := fmt.Sprintf("CREATE VIRTUAL TABLE temp.%s USING %s(%d, %s)", name, moduleName, e.id, name)
		if _, err := conn.ExecContext(context.Background(), stmt); err != nil {
			e.Close()
			return nil, fmt.Errorf("tables: create %s: %w", name, err)
		}
	}
	return e, nil
}

// Close releases the engine.
func (e *Engine) Close() error {
	engines.Delete(e.id)
	if e.conn != nil {
		e.conn.Close()
	}
	return e.db.Close()
}

// Query runs one SQL statement and returns its rows.
func (e *Engine) Query(ctx context.Context, query string) (*Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx = ctx
	defer func() { e.ctx = nil }()
	rows, err := e.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	res := &Result{Columns: cols}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = render(v)
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return res, nil
}

// render formats a SQLite value the way osquery does in its results.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// module is the single SQLite module behind every engine's tables; its
// arguments name the engine and the table.
type module struct{}

func (module) Create(ctx vtab.Context, args []string) (vtab.Table, error) { return connect(ctx, args) }
func (module) Connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	return connect(ctx, args)
}

func connect(ctx vtab.Context, args []string) (vtab.Table, error) {
	// args: module name, database name, table name, then ours.
	if len(args) != 5 {
		return nil, fmt.Errorf("%s: want (engine id, table), got %v", moduleName, args[3:])
	}
	id, err := strconv.ParseInt(strings.TrimSpace(args[3]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: bad engine id %q", moduleName, args[3])
	}
	v, ok := engines.Load(id)
	if !ok {
		return nil, fmt.Errorf("%s: no engine %d", moduleName, id)
	}
	e := v.(*Engine)
	t, ok := e.tables[strings.TrimSpace(args[4])]
	if !ok {
		return nil, fmt.Errorf("%s: no table %q", moduleName, args[4])
	}
	if err := ctx.Declare(declaration(t.Schema)); err != nil {
		return nil, err
	}
	return &vtable{engine: e, t: t}, nil
}

func declaration(s *schema.Table) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE x(")
	for i, c := range s.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(string(c.Type))
	}
	b.WriteString(")")
	return b.String()
}

type vtable struct {
	engine *Engine
	t      Table
}

var vtabOps = map[vtab.ConstraintOp]table.Operator{
	vtab.OpEQ:   table.OperatorEquals,
	vtab.OpGT:   table.OperatorGreaterThan,
	vtab.OpGE:   table.OperatorGreaterThanOrEquals,
	vtab.OpLT:   table.OperatorLessThan,
	vtab.OpLE:   table.OperatorLessThanOrEquals,
	vtab.OpLIKE: table.OperatorLike,
	vtab.OpGLOB: table.OperatorGlob,
}

// BestIndex hands every usable constraint to the table, as osqueryd does,
// and leaves SQLite to check them again (Omit false), as osqueryd does.
func (v *vtable) BestIndex(info *vtab.IndexInfo) error {
	var plan []string
	arg := 0
	pushed := false
	for i := range info.Constraints {
		c := &info.Constraints[i]
		op, ok := vtabOps[c.Op]
		if !c.Usable || !ok || c.Column < 0 || c.Column >= len(v.t.Schema.Columns) {
			continue
		}
		c.ArgIndex = arg
		arg++
		plan = append(plan, fmt.Sprintf("%d:%d", c.Column, op))
		if v.t.Schema.Columns[c.Column].Pushdown {
			pushed = true
		}
	}
	info.IdxStr = strings.Join(plan, ",")
	info.EstimatedCost = 1e6
	if pushed {
		info.EstimatedCost = 10
	}
	return nil
}

func (v *vtable) Open() (vtab.Cursor, error) { return &cursor{v: v}, nil }
func (v *vtable) Disconnect() error          { return nil }
func (v *vtable) Destroy() error             { return nil }

type cursor struct {
	v    *vtable
	rows [][]string // values in schema column order
	i    int
}

func (c *cursor) Filter(_ int, idxStr string, vals []vtab.Value) error {
	qc := table.QueryContext{Constraints: map[string]table.ConstraintList{}}
	if idxStr != "" {
		for i, part := range strings.Split(idxStr, ",") {
			colS, opS, _ := strings.Cut(part, ":")
			col, err1 := strconv.Atoi(colS)
			op, err2 := strconv.Atoi(opS)
			if err1 != nil || err2 != nil || col >= len(c.v.t.Schema.Columns) || i >= len(vals) {
				return fmt.Errorf("%s: bad plan %q", moduleName, idxStr)
			}
			if vals[i] == nil {
				continue // x = NULL matches nothing; SQLite checks it again
			}
			sc := c.v.t.Schema.Columns[col]
			cl := qc.Constraints[sc.Name]
			cl.Affinity = table.ColumnType(sc.Type)
			cl.Constraints = append(cl.Constraints, table.Constraint{Operator: table.Operator(op), Expression: render(driver.Value(vals[i]))})
			qc.Constraints[sc.Name] = cl
		}
	}
	ctx := c.v.engine.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rows, err := c.v.generate(ctx, qc)
	if err != nil {
		return fmt.Errorf("%s: %w", c.v.t.Schema.Name, err)
	}
	c.rows, c.i = rows, 0
	return nil
}

// generate returns the table's rows as values by column position.
func (v *vtable) generate(ctx context.Context, qc table.QueryContext) ([][]string, error) {
	if v.t.Values != nil {
		return v.t.Values(ctx, qc)
	}
	maps, err := v.t.Generate(ctx, qc)
	if err != nil {
		return nil, err
	}
	rows := make([][]string, len(maps))
	for i, m := range maps {
		row := make([]string, len(v.t.Schema.Columns))
		for j, c := range v.t.Schema.Columns {
			row[j] = m[c.Name]
		}
		rows[i] = row
	}
	return rows, nil
}

func (c *cursor) Next() error { c.i++; return nil }
func (c *cursor) Eof() bool   { return c.i >= len(c.rows) }
func (c *cursor) Close() error {
	c.rows = nil
	return nil
}
func (c *cursor) Rowid() (int64, error) { return int64(c.i), nil }

// Column returns a value typed as osquery types it: integer columns as
// integers (NULL when empty or not a number), text as text.
func (c *cursor) Column(col int) (vtab.Value, error) {
	if c.i >= len(c.rows) || col < 0 || col >= len(c.v.t.Schema.Columns) {
		return nil, errors.New("column out of range")
	}
	sc := c.v.t.Schema.Columns[col]
	var s string
	if row := c.rows[c.i]; col < len(row) {
		s = row[col]
	}
	switch sc.Type {
	case schema.Integer, schema.BigInt:
		if s == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, nil
		}
		return n, nil
	case schema.Double:
		if s == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, nil
		}
		return f, nil
	}
	return s, nil
}
