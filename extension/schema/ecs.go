package schema

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// ECSDocument turns one row of the table (as osquery returns it: every value
// a string) into a nested ECS document. Empty values are left out, so a field
// the source lacked is missing, not "" — which is what EQL's null semantics
// and `?field` need. Columns without an ECS name are kept under "scsweep.".
func (t *Table) ECSDocument(row map[string]string) map[string]any {
	return t.document(t.Columns, row)
}

func (t *Table) document(cols []Column, row map[string]string) map[string]any {
	doc := make(map[string]any, 16)
	for k, v := range t.Constant {
		setPath(doc, k, v)
	}
	for _, c := range cols {
		v, ok := row[c.Name]
		if !ok || v == "" {
			continue
		}
		val, ok := convert(c.Kind, v)
		if !ok {
			continue
		}
		setPath(doc, t.ecsName(c), val)
	}
	return doc
}

func (t *Table) ecsName(c Column) string {
	if c.ECS == "" {
		return "scsweep." + t.Name + "." + c.Name
	}
	return c.ECS
}

// Projection builds the part of a row's ECS document that a set of fields
// reads; see Table.Project.
type Projection struct {
	t    *Table
	cols []Column
}

// Project returns a projection onto fields (dotted ECS names): its
// documents hold the table's constant fields and every column whose field
// is one of fields, lies under one (a field naming an object), or holds
// one (a field reaching into a JSON value) — all an evaluator reading only
// those fields can see, built from a few columns instead of all.
func (t *Table) Project(fields []string) *Projection {
	p := &Projection{t: t}
	for _, c := range t.Columns {
		name := t.ecsName(c)
		for _, f := range fields {
			if name == f || strings.HasPrefix(name, f+".") || strings.HasPrefix(f, name+".") {
				p.cols = append(p.cols, c)
				break
			}
		}
	}
	return p
}

// Document is ECSDocument restricted to the projection's columns.
func (p *Projection) Document(row map[string]string) map[string]any {
	return p.t.document(p.cols, row)
}

func convert(kind ValueKind, v string) (any, bool) {
	switch kind {
	case KindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, false
		}
		return n, true
	case KindBool:
		switch strings.ToLower(v) {
		case "1", "true":
			return true, true
		case "0", "false":
			return false, true
		}
		return nil, false
	case KindUnixTime:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, false
		}
		return time.Unix(n, 0).UTC().Format(time.RFC3339), true
	case KindJSON:
		var x any
		if err := json.Unmarshal([]byte(v), &x); err != nil {
			return nil, false
		}
		return x, true
	}
	return v, true
}

// setPath stores v at a dotted path, creating nested objects on the way.
func setPath(doc map[string]any, path string, v any) {
	m := doc
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			m[path] = v
			return
		}
		head := path[:i]
		next, ok := m[head].(map[string]any)
		if !ok {
			next = make(map[string]any, 4)
			m[head] = next
		}
		m, path = next, path[i+1:]
	}
}

// Reusing returns a function that fills one document, reused from call to
// call, with a row's projected fields; the document is valid until the
// next call. It spares a sweep a handful of maps per candidate row. A
// reused document keeps emptied objects where a fresh one has none, which
// only a reader of those objects (not of their fields) could tell, so ok
// is false unless every one of fields names a column's field or a
// constant exactly, and no two of the columns or constants nest or
// coincide.
func (p *Projection) Reusing(fields []string) (fill func(row map[string]string) map[string]any, ok bool) {
	leaves := map[string]bool{}
	var paths []string
	for _, c := range p.cols {
		paths = append(paths, p.t.ecsName(c))
	}
	for k := range p.t.Constant {
		paths = append(paths, k)
	}
	for _, a := range paths {
		if leaves[a] {
			return nil, false
		}
		leaves[a] = true
		for _, b := range paths {
			if strings.HasPrefix(b, a+".") {
				return nil, false
			}
		}
	}
	for _, f := range fields {
		if !leaves[f] {
			return nil, false
		}
	}
	doc := p.t.document(nil, nil) // the constants
	parents := make([]map[string]any, len(p.cols))
	keys := make([]string, len(p.cols))
	for i, c := range p.cols {
		path := p.t.ecsName(c)
		m := doc
		for {
			j := strings.IndexByte(path, '.')
			if j < 0 {
				break
			}
			next, ok := m[path[:j]].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[path[:j]] = next
			}
			m, path = next, path[j+1:]
		}
		parents[i], keys[i] = m, path
	}
	return func(row map[string]string) map[string]any {
		for i, c := range p.cols {
			v, ok := row[c.Name]
			var val any
			if ok && v != "" {
				val, ok = convert(c.Kind, v)
			} else {
				ok = false
			}
			if ok {
				parents[i][keys[i]] = val
			} else {
				delete(parents[i], keys[i])
			}
		}
		return doc
	}, true
}
