package eql

import (
	"fmt"
	"strconv"
	"strings"
)

// pipe is one `| head N` or `| tail N` stage.
type pipe struct {
	tail bool
	n    int
}

// parsed is a query as written: category, condition and pipes.
type parsed struct {
	category string // "" for `any`
	cond     node
	pipes    []pipe
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int // current nesting of boolExpr and unary, bounded by maxDepth
}

// maxDepth bounds nesting so a hostile query cannot exhaust the stack.
const maxDepth = 200

func parse(src string) (*parsed, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	return p.query()
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, a ...any) *Error {
	return posErr(p.src, t.off, fmt.Sprintf(format, a...))
}

func (p *parser) unsupported(t token, what string) *Error {
	e := posErr(p.src, t.off, what+" is not supported: only single-event queries with head and tail pipes run here")
	e.Unsupported = true
	return e
}

func (p *parser) isOp(text string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == text
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == kw
}

func (p *parser) expectOp(text string) error {
	t := p.next()
	if t.kind != tOp || t.text != text {
		return p.errAt(t, "expected %q, found %s", text, describe(t))
	}
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + quote(t.text)
	case tBackquoted:
		return "`" + t.text + "`"
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) query() (*parsed, error) {
	t := p.peek()
	if t.kind == tIdent {
		switch t.text {
		case "sequence", "join", "sample":
			return nil, p.unsupported(t, "`"+t.text+"`")
		}
	}
	q := &parsed{}
	switch t.kind {
	case tIdent:
		if t.text != "any" {
			q.category = t.text
		}
	case tString:
		q.category = t.text
	case tBackquoted:
		q.category = t.text
	default:
		return nil, p.errAt(t, "expected an event category or `any`, found %s", describe(t))
	}
	p.next()
	if !p.isKeyword("where") {
		return nil, p.errAt(p.peek(), "expected `where`, found %s", describe(p.peek()))
	}
	p.next()
	cond, err := p.boolExpr(0)
	if err != nil {
		return nil, err
	}
	q.cond = cond
	for p.isOp("|") {
		p.next()
		pt := p.next()
		if pt.kind != tIdent {
			return nil, p.errAt(pt, "expected a pipe name, found %s", describe(pt))
		}
		switch pt.text {
		case "head", "tail":
		default:
			return nil, p.unsupported(pt, "pipe `"+pt.text+"`")
		}
		n := 10
		if nt := p.peek(); nt.kind == tInt {
			p.next()
			v, err := strconv.Atoi(nt.text)
			if err != nil || v < 0 {
				return nil, p.errAt(nt, "invalid %s count %s", pt.text, nt.text)
			}
			n = v
		} else if nt.kind != tEOF && !p.isOp("|") {
			return nil, p.errAt(nt, "expected a number after %s, found %s", pt.text, describe(nt))
		}
		q.pipes = append(q.pipes, pipe{tail: pt.text == "tail", n: n})
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tIdent && (t.text == "by" || t.text == "until" || t.text == "with") {
			return nil, p.unsupported(t, "`"+t.text+"`")
		}
		return nil, p.errAt(t, "unexpected %s after the condition", describe(t))
	}
	return q, nil
}

// boolExpr parses or (lowest), and, then not.
func (p *parser) boolExpr(depth int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth || depth > maxDepth {
		return nil, p.errAt(p.peek(), "query nested too deeply")
	}
	l, err := p.andExpr(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		r, err := p.andExpr(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) andExpr(depth int) (node, error) {
	l, err := p.notExpr(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		r, err := p.notExpr(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) notExpr(depth int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth || depth > maxDepth {
		return nil, p.errAt(p.peek(), "query nested too deeply")
	}
	if p.isKeyword("not") {
		p.next()
		x, err := p.notExpr(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	if t := p.peek(); t.kind == tIdent && p.toks[p.i+1].kind == tIdent && p.toks[p.i+1].text == "of" {
		return nil, p.unsupported(t, "`"+t.text+" of`")
	}
	return p.comparison(depth)
}

func (p *parser) comparison(depth int) (node, error) {
	l, err := p.additive(depth)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "==", "!=", "<", "<=", ">", ">=":
			p.next()
			r, err := p.additive(depth)
			if err != nil {
				return nil, err
			}
			return cmpNode{op: t.text, l: l, r: r}, nil
		case "=":
			return nil, p.errAt(t, "`=` is not an EQL operator, use `==` or `:`")
		}
	}
	return l, nil
}

func (p *parser) additive(depth int) (node, error) {
	l, err := p.multiplicative(depth)
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text
		r, err := p.multiplicative(depth)
		if err != nil {
			return nil, err
		}
		l = arithNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) multiplicative(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		op := p.next().text
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = arithNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth || depth > maxDepth {
		return nil, p.errAt(p.peek(), "query nested too deeply")
	}
	if p.isOp("-") || p.isOp("+") {
		op := p.next().text
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		if op == "+" {
			return x, nil
		}
		switch v := x.(type) {
		case intLit:
			return intLit{-v.v}, nil
		case numLit:
			return numLit{-v.v}, nil
		}
		return negNode{x}, nil
	}
	x, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	return p.predicate(x)
}

// predicate parses what may follow a primary: in, in~, not in, :, like, regex.
func (p *parser) predicate(x node) (node, error) {
	negated := false
	if p.isKeyword("not") && p.toks[p.i+1].kind == tIdent && p.toks[p.i+1].text == "in" {
		p.next()
		negated = true
	}
	t := p.peek()
	switch {
	case t.kind == tIdent && t.text == "in":
		p.next()
		insensitive := p.tilde()
		list, err := p.exprList()
		if err != nil {
			return nil, err
		}
		return inNode{x: x, list: list, insensitive: insensitive, negated: negated}, nil
	case negated:
		return nil, p.errAt(t, "expected `in` after `not`, found %s", describe(t))
	case t.kind == tOp && t.text == ":":
		p.next()
		pats, err := p.patterns(":")
		if err != nil {
			return nil, err
		}
		return matchNode{op: ":", x: x, patterns: pats}, nil
	case t.kind == tIdent && (t.text == "like" || t.text == "regex"):
		p.next()
		op := t.text
		if p.tilde() {
			op += "~"
		}
		pats, err := p.patterns(op)
		if err != nil {
			return nil, err
		}
		return matchNode{op: op, x: x, patterns: pats}, nil
	}
	return x, nil
}

// tilde consumes a `~` written right after the previous token.
func (p *parser) tilde() bool {
	if t := p.peek(); t.kind == tOp && t.text == "~" && !t.spaceBefore {
		p.next()
		return true
	}
	return false
}

func (p *parser) exprList() ([]node, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var list []node
	for {
		e, err := p.boolExpr(1)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if p.isOp(",") {
			p.next()
			continue
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return list, nil
	}
}

func (p *parser) patterns(op string) ([]string, error) {
	if p.isOp("(") {
		p.next()
		var ps []string
		for {
			t := p.next()
			if t.kind != tString {
				return nil, p.errAt(t, "%s takes string constants, found %s", op, describe(t))
			}
			ps = append(ps, t.text)
			if p.isOp(",") {
				p.next()
				continue
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return ps, nil
		}
	}
	t := p.next()
	if t.kind != tString {
		return nil, p.errAt(t, "%s takes a string constant, found %s", op, describe(t))
	}
	return []string{t.text}, nil
}

var functions = map[string]struct {
	name             string
	minArgs, maxArgs int // maxArgs < 0: variadic
	insensitive      bool
}{
	"between":        {"between", 3, 4, true},
	"cidrmatch":      {"cidrMatch", 2, -1, false},
	"concat":         {"concat", 1, -1, false},
	"endswith":       {"endsWith", 2, 2, true},
	"indexof":        {"indexOf", 2, 3, true},
	"length":         {"length", 1, 1, false},
	"startswith":     {"startsWith", 2, 2, true},
	"string":         {"string", 1, 1, false},
	"stringcontains": {"stringContains", 2, 2, true},
	"substring":      {"substring", 2, 3, false},
	"add":            {"add", 2, 2, false},
	"divide":         {"divide", 2, 2, false},
	"modulo":         {"modulo", 2, 2, false},
	"multiply":       {"multiply", 2, 2, false},
	"number":         {"number", 1, 2, false},
	"subtract":       {"subtract", 2, 2, false},
}

var reserved = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "like": true, "regex": true,
	"where": true, "sequence": true, "join": true, "sample": true, "until": true,
	"by": true, "with": true, "of": true, "any": true,
}

func (p *parser) primary(depth int) (node, error) {
	t := p.peek()
	switch t.kind {
	case tString:
		p.next()
		return strLit{t.text}, nil
	case tInt:
		p.next()
		if v, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return intLit{v}, nil
		}
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t, "invalid number %s", t.text)
		}
		return numLit{v}, nil
	case tFloat:
		p.next()
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t, "invalid number %s", t.text)
		}
		return numLit{v}, nil
	case tOp:
		switch t.text {
		case "(":
			p.next()
			x, err := p.boolExpr(depth + 1)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "?":
			p.next()
			f, err := p.field(depth)
			if err != nil {
				return nil, err
			}
			f.optional = true
			return f, nil
		case "[":
			return nil, p.unsupported(t, "subquery `[...]`")
		}
	case tIdent:
		switch t.text {
		case "true", "false":
			p.next()
			return boolLit{t.text == "true"}, nil
		case "null":
			p.next()
			return nullLit{}, nil
		}
		nt := p.toks[p.i+1]
		if (nt.kind == tOp && nt.text == "(" && !nt.spaceBefore) ||
			(nt.kind == tOp && nt.text == "~" && !nt.spaceBefore && p.toks[p.i+2].kind == tOp && p.toks[p.i+2].text == "(") {
			return p.call(depth)
		}
		if reserved[t.text] {
			return nil, p.errAt(t, "unexpected keyword `%s`", t.text)
		}
		return p.field(depth)
	case tBackquoted:
		return p.field(depth)
	}
	return nil, p.errAt(t, "expected a value, field or function, found %s", describe(t))
}

func (p *parser) field(depth int) (*fieldRef, error) {
	f := &fieldRef{}
	for {
		t := p.next()
		switch t.kind {
		case tIdent:
			f.segs = append(f.segs, t.text)
		case tBackquoted:
			// Backquotes only escape characters; `a.b` is the field a.b,
			// as Elasticsearch reads it (a flat "a.b" key is still found).
			f.segs = append(f.segs, strings.Split(t.text, ".")...)
		case tInt:
			// a numeric segment such as `a.0` is a plain key
			f.segs = append(f.segs, t.text)
		default:
			return nil, p.errAt(t, "expected a field name, found %s", describe(t))
		}
		if nt := p.peek(); nt.kind == tOp && nt.text == "." && !nt.spaceBefore {
			p.next()
			continue
		}
		return f, nil
	}
}

func (p *parser) call(depth int) (node, error) {
	t := p.next()
	spec, ok := functions[strings.ToLower(t.text)]
	if !ok {
		return nil, p.errAt(t, "unknown function %s", t.text)
	}
	insensitive := p.tilde()
	if insensitive && !spec.insensitive {
		return nil, p.errAt(t, "function %s has no case-insensitive ~ form", spec.name)
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []node
	if p.isOp(")") {
		p.next()
	} else {
		for {
			a, err := p.boolExpr(depth + 1)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.isOp(",") {
				p.next()
				continue
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			break
		}
	}
	if len(args) < spec.minArgs || (spec.maxArgs >= 0 && len(args) > spec.maxArgs) {
		return nil, p.errAt(t, "function %s takes %s arguments, got %d", spec.name, arity(spec.minArgs, spec.maxArgs), len(args))
	}
	return callNode{name: spec.name, insensitive: insensitive, args: args}, nil
}

func arity(lo, hi int) string {
	switch {
	case hi < 0:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
