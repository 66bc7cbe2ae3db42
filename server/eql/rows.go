package eql

import (
	"fmt"
	"strings"

	"scsweep/extension/schema"
)

// RowQuery is a query compiled against the columns of one table, so a row
// as osquery returns it is evaluated without first being turned into an ECS
// document: `process.parent.name` reads row["parent_name"]. It matches
// exactly the rows whose documents (table.ECSDocument, then the extra
// fields set) Query.Match accepts; building a document costs a dozen
// allocations a row, which a sweep only needs for the few rows that match.
// A RowQuery is safe for concurrent use.
type RowQuery struct {
	q     *Query
	extra []string
	pred  predFn[rowEvent]
}

// rowEvent is what the row closures read: the row and the values of the
// extra fields, in the order ForTable was given them.
type rowEvent struct {
	row   map[string]string
	extra []string
}

// ForTable compiles q against the rows of table. Each field named in extra
// is not read from the row: its value is the string given to Match in the
// same position, set after the row's own fields as a caller that adds a
// field to every document (the host id) would set it.
func (q *Query) ForTable(table *schema.Table, extra ...string) (*RowQuery, error) {
	if table == nil {
		return nil, fmt.Errorf("eql: row query needs a table")
	}
	rc := &rowCompiler{table: table, extra: extra}
	c := &compiler[rowEvent]{field: rc.field}
	pred, err := c.pred(q.cond)
	if err != nil {
		return nil, err
	}
	return &RowQuery{q: q, extra: extra, pred: pred}, nil
}

// Query returns the query the row query was compiled from.
func (rq *RowQuery) Query() *Query { return rq.q }

// Match reports whether the row satisfies the condition (pipes aside).
// extra holds the values of the extra fields, as many as ForTable named;
// a different count is a programming error and panics.
func (rq *RowQuery) Match(row map[string]string, extra ...string) bool {
	if len(extra) != len(rq.extra) {
		panic(fmt.Sprintf("eql: row query has %d extra fields, Match got %d values", len(rq.extra), len(extra)))
	}
	return rq.pred(rowEvent{row: row, extra: extra}) == tTrue
}

type rowCompiler struct {
	table *schema.Table
	extra []string
}

// related reports whether one dotted path is the other or lies inside it:
// only such paths can change what a field resolves to in a document.
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.HasPrefix(b, a) && (len(a) == len(b) || b[len(a)] == '.')
}

func (rc *rowCompiler) ecsName(c schema.Column) string {
	if c.ECS != "" {
		return c.ECS
	}
	return "scsweep." + rc.table.Name + "." + c.Name
}

// field returns the reader of a field. The common cases — a field filled by
// one text column, a constant of the table, an extra field, a field nothing
// fills — read the row directly; anything else (JSON columns, objects,
// numbers, paths that overlap) builds the part of the document the field
// depends on and resolves it there, which is exact by construction.
func (rc *rowCompiler) field(segs []string) func(rowEvent) value {
	path := strings.Join(segs, ".")
	var cols []schema.Column
	var consts []string
	var extras []int
	for _, c := range rc.table.Columns {
		if related(rc.ecsName(c), path) {
			cols = append(cols, c)
		}
	}
	for k := range rc.table.Constant {
		if related(k, path) {
			consts = append(consts, k)
		}
	}
	for i, x := range rc.extra {
		if related(x, path) {
			extras = append(extras, i)
		}
	}
	switch {
	case len(cols)+len(consts)+len(extras) == 0:
		return func(rowEvent) value { return null }
	case len(extras) == 1 && len(cols)+len(consts) == 0 && rc.extra[extras[0]] == path:
		i := extras[0]
		return func(ev rowEvent) value { return strVal(ev.extra[i]) }
	case len(consts) == 1 && len(cols)+len(extras) == 0 && consts[0] == path:
		v := valueOf(rc.table.Constant[path])
		return func(rowEvent) value { return v }
	case len(cols) == 1 && len(consts)+len(extras) == 0 && rc.ecsName(cols[0]) == path:
		name, kind := cols[0].Name, cols[0].Kind
		if kind == schema.KindString {
			return func(ev rowEvent) value {
				if s := ev.row[name]; s != "" {
					return strVal(s)
				}
				return null
			}
		}
		if kind != schema.KindJSON {
			return func(ev rowEvent) value {
				x, _ := kind.Value(ev.row[name])
				return valueOf(x)
			}
		}
	}
	r := newResolver(segs)
	extraSegs := make([][]string, len(extras))
	for j, i := range extras {
		extraSegs[j] = splitField(rc.extra[i])
	}
	return func(ev rowEvent) value {
		sub := make(map[string]string, len(cols))
		for _, c := range cols {
			if v, ok := ev.row[c.Name]; ok {
				sub[c.Name] = v
			}
		}
		doc := rc.table.ECSDocument(sub)
		for j, i := range extras {
			setNested(doc, extraSegs[j], ev.extra[i])
		}
		return valueOf(r.get(doc))
	}
}
