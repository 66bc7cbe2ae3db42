package eql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"scsweep/extension/schema"
)

// PushDown compiles the query's condition to a SQL boolean expression over
// the columns of table, for osquery's SQLite to run on the host.
//
// The expression selects a superset of the rows whose ECS documents
// (table.ECSDocument) the query matches: never fewer, so the sweeper can
// re-evaluate exactly what comes back. Where SQL cannot say the same thing —
// fields without a column, regular expressions, functions, non-ASCII text
// that SQLite's LIKE does not fold — the condition widens to true. Pipes are
// not pushed down. Constant fields of the table (event.category, event.type)
// are decided here, so a rule for another category pushes down as 0.
func PushDown(q *Query, table *schema.Table) (string, error) {
	if q == nil || table == nil {
		return "", fmt.Errorf("eql: push-down needs a query and a table")
	}
	pd := &pushdown{table: table, constDoc: map[string]any{}}
	for k, v := range table.Constant {
		setNested(pd.constDoc, strings.Split(k, "."), v)
	}
	t, _, err := pd.bounds(q.cond)
	if err != nil {
		return "", err
	}
	return t, nil
}

// WindowSQL returns the full query a host runs for one look-back window:
// rows with from <= time < to (unix seconds) that may match q.
func WindowSQL(q *Query, table *schema.Table, from, to int64) (string, error) {
	return WindowSQLOn(q, table, "@timestamp", from, to)
}

// WindowSQLOn is WindowSQL with the window on another time field, as a
// rule's timestamp_override asks (event.ingested: when the event reached
// the store, so late-arriving events are still swept).
func WindowSQLOn(q *Query, table *schema.Table, timeField string, from, to int64) (string, error) {
	where, err := PushDown(q, table)
	if err != nil {
		return "", err
	}
	c, ok := table.ColumnForECS(timeField)
	if !ok {
		return "", fmt.Errorf("eql: table %s has no column for time field %s", table.Name, timeField)
	}
	timeCol := c.Name
	return fmt.Sprintf("SELECT * FROM %s WHERE %s >= %d AND %s < %d AND (%s)",
		table.Name, timeCol, from, timeCol, to, where), nil
}

type pushdown struct {
	table    *schema.Table
	constDoc map[string]any
}

func setNested(m map[string]any, segs []string, v any) {
	for len(segs) > 1 {
		next, ok := m[segs[0]].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[segs[0]] = next
		}
		m, segs = next, segs[1:]
	}
	m[segs[0]] = v
}

const (
	sqlTrue  = "1"
	sqlFalse = "0"
)

func sqlAnd(a, b string) string {
	switch {
	case a == sqlFalse || b == sqlFalse:
		return sqlFalse
	case a == sqlTrue:
		return b
	case b == sqlTrue:
		return a
	}
	return "(" + a + " AND " + b + ")"
}

func sqlOr(a, b string) string {
	switch {
	case a == sqlTrue || b == sqlTrue:
		return sqlTrue
	case a == sqlFalse:
		return b
	case b == sqlFalse:
		return a
	}
	return "(" + a + " OR " + b + ")"
}

func sqlOrAll(xs []string) string {
	out := sqlFalse
	for _, x := range xs {
		out = sqlOr(out, x)
	}
	return out
}

// bounds returns two SQL conditions: one true on every row where n may be
// true, one true on every row where n may be false. Keeping both is what
// makes `not` over a widened condition sound.
func (pd *pushdown) bounds(n node) (mayTrue, mayFalse string, err error) {
	if pd.constantOnly(n) {
		p, err := docs.pred(n)
		if err != nil {
			return "", "", err
		}
		switch p(pd.constDoc) {
		case tTrue:
			return sqlTrue, sqlFalse, nil
		case tFalse:
			return sqlFalse, sqlTrue, nil
		}
		return sqlFalse, sqlFalse, nil
	}
	switch x := n.(type) {
	case andNode:
		lt, lf, err := pd.bounds(x.l)
		if err != nil {
			return "", "", err
		}
		rt, rf, err := pd.bounds(x.r)
		if err != nil {
			return "", "", err
		}
		return sqlAnd(lt, rt), sqlOr(lf, rf), nil
	case orNode:
		lt, lf, err := pd.bounds(x.l)
		if err != nil {
			return "", "", err
		}
		rt, rf, err := pd.bounds(x.r)
		if err != nil {
			return "", "", err
		}
		return sqlOr(lt, rt), sqlAnd(lf, rf), nil
	case notNode:
		t, f, err := pd.bounds(x.x)
		return f, t, err
	case cmpNode:
		t, f := pd.cmp(x)
		return t, f, nil
	case inNode:
		t, f := pd.in(x)
		if x.negated {
			t, f = f, t
		}
		return t, f, nil
	case matchNode:
		t, f := pd.match(x)
		return t, f, nil
	}
	return sqlTrue, sqlTrue, nil
}

// constantOnly reports whether n reads no field but the table's constants,
// so the evaluator can decide it once.
func (pd *pushdown) constantOnly(n node) bool {
	ok := true
	walk(n, func(m node) {
		if f, isField := m.(*fieldRef); isField {
			if _, c := pd.table.Constant[f.path()]; !c {
				ok = false
			}
		}
	})
	return ok
}

func walk(n node, f func(node)) {
	f(n)
	switch x := n.(type) {
	case notNode:
		walk(x.x, f)
	case andNode:
		walk(x.l, f)
		walk(x.r, f)
	case orNode:
		walk(x.l, f)
		walk(x.r, f)
	case cmpNode:
		walk(x.l, f)
		walk(x.r, f)
	case arithNode:
		walk(x.l, f)
		walk(x.r, f)
	case negNode:
		walk(x.x, f)
	case inNode:
		walk(x.x, f)
		for _, e := range x.list {
			walk(e, f)
		}
	case matchNode:
		walk(x.x, f)
	case callNode:
		for _, e := range x.args {
			walk(e, f)
		}
	}
}

// column returns the column behind a field node, if the field is one.
func (pd *pushdown) column(n node) (schema.Column, bool) {
	f, ok := n.(*fieldRef)
	if !ok {
		return schema.Column{}, false
	}
	return pd.table.ColumnForECS(f.path())
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// literalSafe reports whether s can be written as a SQL literal and compared
// byte for byte: NUL ends a string in SQLite, and invalid UTF-8 compares
// differently once a driver repairs it.
func literalSafe(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// present is true where the column holds a value; rows carry "" for missing.
// A NULL column makes it NULL, which only ever drops a row whose field is
// missing, and a missing field makes no comparison true.
func present(c string) string { return "(" + c + " <> '')" }

func absent(c string) string { return "(" + c + " IS NULL OR " + c + " = '')" }

// nonASCII is true where the text has a byte outside ASCII: there SQLite's
// LIKE folds less than the evaluator does, so such rows are kept.
func nonASCII(c string) string {
	return "(length(CAST(" + c + " AS BLOB)) <> length(" + c + "))"
}

func (pd *pushdown) cmp(x cmpNode) (string, string) {
	op := x.op
	fieldSide, other := x.l, x.r
	if _, ok := pd.column(fieldSide); !ok {
		fieldSide, other = x.r, x.l
		op = flip(op)
	}
	col, ok := pd.column(fieldSide)
	if !ok {
		return sqlTrue, sqlTrue
	}
	lit, ok := literalValue(other)
	if !ok {
		return sqlTrue, sqlTrue
	}
	c := ident(col.Name)
	if lit.k == vNull {
		// A value that does not convert (pid "4.5") is missing from the
		// document too, so absence is exact only for string columns.
		missing := absent(c)
		if col.Kind != schema.KindString {
			missing = sqlTrue
		}
		switch op {
		case "==":
			return missing, present(c)
		case "!=":
			return present(c), missing
		}
		return sqlFalse, sqlFalse
	}
	switch col.Kind {
	case schema.KindString:
		if col.Type != schema.Text {
			return sqlTrue, sqlTrue
		}
		if lit.k != vStr {
			// a string never compares with a number or a boolean: null
			return sqlFalse, sqlFalse
		}
		if !literalSafe(lit.s) {
			return present(c), present(c)
		}
		s := sqlString(lit.s)
		if !isASCII(lit.s) && op != "==" && op != "!=" {
			// ordering over non-ASCII: SQLite and the evaluator both compare
			// bytes, but keep it simple and safe
			return present(c), present(c)
		}
		t := "(" + c + " " + sqlOp(op) + " " + s + ")"
		if op == "==" && lit.s != "" {
			// equal to a non-empty string implies present
			return t, sqlAnd(present(c), "(NOT "+t+")")
		}
		return sqlAnd(present(c), t), sqlAnd(present(c), "(NOT "+t+")")
	case schema.KindInt:
		if !lit.isNum() {
			return sqlFalse, sqlFalse
		}
		num := strconv.FormatInt(lit.i, 10)
		if lit.k == vFloat {
			num = strconv.FormatFloat(lit.f, 'g', -1, 64)
			if !strings.ContainsAny(num, ".e") {
				num += ".0"
			}
		}
		v := "CAST(" + c + " AS INTEGER)"
		t := "(" + v + " " + sqlOp(op) + " " + num + ")"
		// CAST reads more than strconv does (" 5", "5x"): rows it reads
		// differently only widen the result, since unparsable values are null.
		return sqlAnd(present(c), t), sqlAnd(present(c), "(NOT "+t+")")
	case schema.KindBool:
		if lit.k != vBool || (op != "==" && op != "!=") {
			return sqlTrue, sqlTrue
		}
		isTrue := "(" + c + " IN (1, '1') OR lower(" + c + ") = 'true')"
		isFalse := "(" + c + " IN (0, '0') OR lower(" + c + ") = 'false')"
		want, other := isTrue, isFalse
		if !lit.b {
			want, other = isFalse, isTrue
		}
		if op == "!=" {
			want, other = other, want
		}
		return want, other
	}
	return sqlTrue, sqlTrue
}

func sqlOp(op string) string {
	if op == "==" {
		return "="
	}
	return op
}

func (pd *pushdown) in(x inNode) (string, string) {
	col, ok := pd.column(x.x)
	if !ok || col.Kind != schema.KindString || col.Type != schema.Text {
		return sqlTrue, sqlTrue
	}
	c := ident(col.Name)
	var strs []string
	for _, e := range x.list {
		lit, ok := literalValue(e)
		if !ok {
			return sqlTrue, sqlTrue
		}
		if lit.k == vStr {
			if !literalSafe(lit.s) {
				return present(c), present(c)
			}
			strs = append(strs, lit.s)
		}
	}
	if len(strs) == 0 {
		// nothing in the list can equal a string: false where present
		return sqlFalse, present(c)
	}
	if !x.insensitive {
		list := make([]string, len(strs))
		for i, s := range strs {
			list[i] = sqlString(s)
		}
		t := "(" + c + " IN (" + strings.Join(list, ", ") + "))"
		return t, sqlAnd(present(c), "(NOT "+t+")")
	}
	var alts []string
	for _, s := range strs {
		like, ok := likePattern(s, false)
		if !ok {
			return present(c), present(c)
		}
		alts = append(alts, "("+c+" LIKE "+sqlString(like)+" ESCAPE '\\')")
	}
	alts = append(alts, nonASCII(c))
	return sqlAnd(present(c), sqlOrAll(alts)), present(c)
}

func (pd *pushdown) match(x matchNode) (string, string) {
	col, ok := pd.column(x.x)
	if !ok || col.Kind != schema.KindString || col.Type != schema.Text {
		return sqlTrue, sqlTrue
	}
	c := ident(col.Name)
	var alts []string
	for _, p := range x.patterns {
		switch x.op {
		case ":", "like~":
			like, ok := likePattern(p, true)
			if !ok {
				return present(c), present(c)
			}
			alts = append(alts, "("+c+" LIKE "+sqlString(like)+" ESCAPE '\\')")
		case "like":
			if !literalSafe(p) {
				return present(c), present(c)
			}
			alts = append(alts, "("+c+" GLOB "+sqlString(globPattern(p))+")")
		default: // regex: SQLite has no regexp of its own
			return present(c), present(c)
		}
	}
	alts = append(alts, nonASCII(c))
	return sqlAnd(present(c), sqlOrAll(alts)), present(c)
}

// likePattern turns an EQL pattern into a LIKE pattern with `\` as escape;
// ok is false when the pattern is not ASCII, as LIKE folds ASCII only.
func likePattern(p string, wildcards bool) (string, bool) {
	if !isASCII(p) || strings.ContainsRune(p, 0) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case wildcards && c == '*':
			b.WriteByte('%')
		case wildcards && c == '?':
			b.WriteByte('_')
		case c == '%' || c == '_' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// globPattern turns a case-sensitive EQL pattern into GLOB syntax, where
// `[` opens a class and must be quoted.
func globPattern(p string) string {
	return strings.ReplaceAll(p, "[", "[[]")
}
