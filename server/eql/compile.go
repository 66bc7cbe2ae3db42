package eql

import (
	"fmt"
	"regexp"
	"strings"
)

type (
	predFn[E any] func(ev E) tv
	evalFn[E any] func(ev E) value
)

// compiler turns a condition into closures over events of type E: decoded
// JSON documents, or table rows read column by column. Only field access
// differs between the two.
type compiler[E any] struct {
	// field returns the reader of a dotted field; null when missing.
	field func(segs []string) func(E) value
}

// docs compiles for decoded JSON documents.
var docs = &compiler[map[string]any]{field: func(segs []string) func(map[string]any) value {
	r := newResolver(segs)
	return func(ev map[string]any) value {
		x := r.get(ev)
		if s, ok := x.(string); ok {
			return value{k: vStr, s: s}
		}
		return valueOf(x)
	}
}}

// pred turns a condition into a closure tree. Common shapes (a field
// against constants) get closures that read the raw JSON value directly and
// allocate nothing.
func (c *compiler[E]) pred(n node) (predFn[E], error) {
	switch x := n.(type) {
	case andNode:
		if ordered, ok := failFast(x); ok {
			return c.pred(ordered)
		}
		l, err := c.pred(x.l)
		if err != nil {
			return nil, err
		}
		r, err := c.pred(x.r)
		if err != nil {
			return nil, err
		}
		return func(ev E) tv {
			a := l(ev)
			if a == tFalse {
				return tFalse
			}
			b := r(ev)
			if b == tFalse {
				return tFalse
			}
			if a == tTrue && b == tTrue {
				return tTrue
			}
			return tNull
		}, nil
	case orNode:
		l, err := c.pred(x.l)
		if err != nil {
			return nil, err
		}
		r, err := c.pred(x.r)
		if err != nil {
			return nil, err
		}
		return func(ev E) tv {
			a := l(ev)
			if a == tTrue {
				return tTrue
			}
			b := r(ev)
			if b == tTrue {
				return tTrue
			}
			if a == tFalse && b == tFalse {
				return tFalse
			}
			return tNull
		}, nil
	case notNode:
		p, err := c.pred(x.x)
		if err != nil {
			return nil, err
		}
		return func(ev E) tv { return p(ev).not() }, nil
	case boolLit:
		t := tvOf(x.v)
		return func(E) tv { return t }, nil
	case nullLit:
		return func(E) tv { return tNull }, nil
	case cmpNode:
		return c.cmp(x)
	case inNode:
		return c.in(x)
	case matchNode:
		return c.match(x)
	}
	e, err := c.value(n)
	if err != nil {
		return nil, err
	}
	return func(ev E) tv { return e(ev).truth() }, nil
}

// literalValue returns the value of a constant node.
func literalValue(n node) (value, bool) {
	switch x := n.(type) {
	case nullLit:
		return null, true
	case boolLit:
		return boolVal(x.v), true
	case intLit:
		return intVal(x.v), true
	case numLit:
		return floatVal(x.v), true
	case strLit:
		return strVal(x.v), true
	}
	return null, false
}

func (c *compiler[E]) cmp(x cmpNode) (predFn[E], error) {
	// `x == null` and `x != null` test presence, as Elasticsearch rewrites
	// them to exists queries: they are never null themselves.
	if _, ok := x.l.(nullLit); ok && (x.op == "==" || x.op == "!=") {
		x.l, x.r = x.r, x.l
	}
	if _, ok := x.r.(nullLit); ok && (x.op == "==" || x.op == "!=") {
		e, err := c.value(x.l)
		if err != nil {
			return nil, err
		}
		want := x.op == "=="
		return func(ev E) tv { return tvOf((e(ev).k == vNull) == want) }, nil
	}
	op := x.op
	if f, ok := x.l.(*fieldRef); ok {
		if lit, ok := literalValue(x.r); ok {
			return fieldCmp(c.field(f.segs), op, lit), nil
		}
	}
	if f, ok := x.r.(*fieldRef); ok {
		if lit, ok := literalValue(x.l); ok {
			return fieldCmp(c.field(f.segs), flip(op), lit), nil
		}
	}
	l, err := c.value(x.l)
	if err != nil {
		return nil, err
	}
	r, err := c.value(x.r)
	if err != nil {
		return nil, err
	}
	return func(ev E) tv { return compareValues(op, l(ev), r(ev)) }, nil
}

// fieldCmp compares a field with a constant; a string equality is the
// hot case and is done on the raw value.
func fieldCmp[E any](get func(E) value, op string, lit value) predFn[E] {
	if lit.k == vStr && op == "==" {
		s := lit.s
		return func(ev E) tv {
			switch v := get(ev); v.k {
			case vStr:
				return tvOf(v.s == s)
			case vNull:
				return tNull
			default:
				return compareValues(op, v, lit)
			}
		}
	}
	return func(ev E) tv { return compareValues(op, get(ev), lit) }
}

func (c *compiler[E]) in(x inNode) (predFn[E], error) {
	lits := make([]value, 0, len(x.list))
	allLit := true
	for _, e := range x.list {
		v, ok := literalValue(e)
		if !ok {
			allLit = false
			break
		}
		lits = append(lits, v)
	}
	xe, err := c.value(x.x)
	if err != nil {
		return nil, err
	}
	insensitive, negated := x.insensitive, x.negated
	var items []evalFn[E]
	if !allLit {
		for _, e := range x.list {
			c, err := c.value(e)
			if err != nil {
				return nil, err
			}
			items = append(items, c)
		}
	}
	// strings folded once for in~
	if insensitive {
		for i, v := range lits {
			if v.k == vStr {
				lits[i].s = foldString(v.s)
			}
		}
	}
	var strs []string
	onlyStr := allLit && !insensitive
	for _, v := range lits {
		if v.k != vStr {
			onlyStr = false
		}
		strs = append(strs, v.s)
	}
	res := func(t tv) tv {
		if negated {
			return t.not()
		}
		return t
	}
	if f, ok := x.x.(*fieldRef); ok && onlyStr {
		get := c.field(f.segs)
		return func(ev E) tv {
			v := get(ev)
			if v.k == vStr {
				for _, w := range strs {
					if v.s == w {
						return res(tTrue)
					}
				}
				return res(tFalse)
			}
			return res(inValues(v, lits, false))
		}, nil
	}
	return func(ev E) tv {
		v := xe(ev)
		if allLit {
			return res(inValues(v, lits, insensitive))
		}
		list := make([]value, len(items))
		for i, it := range items {
			list[i] = it(ev)
			if insensitive && list[i].k == vStr {
				list[i].s = foldString(list[i].s)
			}
		}
		return res(inValues(v, list, insensitive))
	}, nil
}

// inValues is `v in list`: null when v is null, any-match over a
// multi-valued v; list strings are already folded for in~.
func inValues(v value, list []value, insensitive bool) tv {
	switch v.k {
	case vNull:
		return tNull
	case vMulti:
		res := tNull
		for _, e := range v.m {
			switch inValues(valueOf(e), list, insensitive) {
			case tTrue:
				return tTrue
			case tFalse:
				res = tFalse
			}
		}
		return res
	}
	if insensitive && v.k == vStr {
		v.s = foldString(v.s)
	}
	for _, w := range list {
		if w.k == vNull {
			continue
		}
		if c, ok := compareScalars(v, w); ok && c == 0 {
			return tTrue
		}
	}
	return tFalse
}

// stringMatcher is a compiled `:`/like/regex right-hand side.
type stringMatcher func(s string) bool

func newMatcher(op string, patterns []string) (stringMatcher, error) {
	switch op {
	case ":", "like", "like~":
		fold := op != "like"
		ws := make([]*wildcard, len(patterns))
		for i, p := range patterns {
			ws[i] = newWildcard(p, fold)
		}
		return newWildcardSet(ws).match, nil
	case "regex", "regex~":
		alts := make([]string, len(patterns))
		for i, p := range patterns {
			if _, err := regexp.Compile(p); err != nil {
				return nil, fmt.Errorf("eql: invalid regular expression %s: %w", quote(p), err)
			}
			alts[i] = "(?:" + p + ")"
		}
		flags := "(?s)"
		if op == "regex~" {
			flags = "(?is)"
		}
		re, err := regexp.Compile(flags + "^(?:" + strings.Join(alts, "|") + ")$")
		if err != nil {
			return nil, fmt.Errorf("eql: invalid regular expression: %w", err)
		}
		return re.MatchString, nil
	}
	return nil, fmt.Errorf("eql: unknown match operator %s", op)
}

func (c *compiler[E]) match(x matchNode) (predFn[E], error) {
	m, err := newMatcher(x.op, x.patterns)
	if err != nil {
		return nil, err
	}
	if f, ok := x.x.(*fieldRef); ok {
		get := c.field(f.segs)
		return func(ev E) tv {
			switch v := get(ev); v.k {
			case vStr:
				return tvOf(m(v.s))
			case vNull:
				return tNull
			default:
				return matchValue(m, v)
			}
		}, nil
	}
	e, err := c.value(x.x)
	if err != nil {
		return nil, err
	}
	return func(ev E) tv { return matchValue(m, e(ev)) }, nil
}

func matchValue(m stringMatcher, v value) tv {
	switch v.k {
	case vStr:
		return tvOf(m(v.s))
	case vNull:
		return tNull
	case vMulti:
		res := tNull
		for _, e := range v.m {
			switch matchValue(m, valueOf(e)) {
			case tTrue:
				return tTrue
			case tFalse:
				res = tFalse
			}
		}
		return res
	}
	return tNull
}

func (c *compiler[E]) value(n node) (evalFn[E], error) {
	switch x := n.(type) {
	case nullLit, boolLit, intLit, numLit, strLit:
		v, _ := literalValue(x)
		return func(E) value { return v }, nil
	case *fieldRef:
		get := c.field(x.segs)
		return get, nil
	case negNode:
		e, err := c.value(x.x)
		if err != nil {
			return nil, err
		}
		return func(ev E) value { return arith("-", intVal(0), e(ev).first()) }, nil
	case arithNode:
		l, err := c.value(x.l)
		if err != nil {
			return nil, err
		}
		r, err := c.value(x.r)
		if err != nil {
			return nil, err
		}
		op := x.op
		return func(ev E) value { return arith(op, l(ev).first(), r(ev).first()) }, nil
	case callNode:
		return c.call(x)
	case andNode, orNode, notNode, cmpNode, inNode, matchNode:
		p, err := c.pred(n)
		if err != nil {
			return nil, err
		}
		return func(ev E) value {
			switch p(ev) {
			case tTrue:
				return boolVal(true)
			case tFalse:
				return boolVal(false)
			}
			return null
		}, nil
	}
	return nil, fmt.Errorf("eql: cannot compile %T", n)
}

// broadFields are ECS fields that most events of a category share, so a test
// on them rarely fails: host OS, event category, type and kind.
var broadFields = map[string]bool{
	"event.category": true, "event.type": true, "event.kind": true, "event.module": true,
	"event.dataset": true, "event.outcome": true, "host.os.type": true, "host.os.family": true,
	"host.os.platform": true, "host.os.name": true, "event_type": true,
}

// failFast reorders an and-chain so that tests of broad fields run last.
// `and` is commutative in three-valued logic and evaluation has no side
// effects, so only the cost changes: a rule like ScreenConnect's is decided
// by its parent-name test for almost every event. ok is false when the
// chain is already in that order.
func failFast(n andNode) (node, bool) {
	var conj []node
	var flatten func(node)
	flatten = func(m node) {
		if a, ok := m.(andNode); ok {
			flatten(a.l)
			flatten(a.r)
			return
		}
		conj = append(conj, m)
	}
	flatten(n)
	ordered := make([]node, 0, len(conj))
	var broad []node
	for _, c := range conj {
		if isBroadTest(c) {
			broad = append(broad, c)
		} else {
			ordered = append(ordered, c)
		}
	}
	if len(broad) == 0 || len(ordered) == 0 {
		return nil, false
	}
	// in order already when no broad test comes before a narrow one
	seenBroad, moved := false, false
	for _, c := range conj {
		b := isBroadTest(c)
		if seenBroad && !b {
			moved = true
			break
		}
		seenBroad = seenBroad || b
	}
	if !moved {
		return nil, false
	}
	ordered = append(ordered, broad...)
	// right-leaning chain of non-broad tests, then the broad ones: compiled
	// again, it is already in order, so failFast returns ok=false.
	var out node = ordered[len(ordered)-1]
	for i := len(ordered) - 2; i >= 0; i-- {
		out = andNode{ordered[i], out}
	}
	return out, true
}

func isBroadTest(n node) bool {
	var x node
	switch c := n.(type) {
	case cmpNode:
		x = c.l
		if _, ok := x.(*fieldRef); !ok {
			x = c.r
		}
	case inNode:
		x = c.x
	case matchNode:
		x = c.x
	default:
		return false
	}
	f, ok := x.(*fieldRef)
	return ok && broadFields[f.path()]
}
