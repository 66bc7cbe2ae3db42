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
	doc := make(map[string]any, 16)
	for k, v := range t.Constant {
		setPath(doc, k, v)
	}
	for _, c := range t.Columns {
		v, ok := row[c.Name]
		if !ok || v == "" {
			continue
		}
		field := c.ECS
		if field == "" {
			field = "scsweep." + t.Name + "." + c.Name
		}
		val, ok := c.Kind.Value(v)
		if !ok {
			continue
		}
		setPath(doc, field, val)
	}
	return doc
}

// Value converts one value of a column of this kind as ECSDocument does.
// ok is false when the value is empty or does not convert: the document then
// lacks the field.
func (k ValueKind) Value(v string) (any, bool) {
	if v == "" {
		return nil, false
	}
	switch k {
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
