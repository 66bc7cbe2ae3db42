package eql

import (
	"strconv"
	"strings"
)

// node is one node of a parsed condition. Nodes are immutable once parsed;
// the compiler and the push-down compiler both walk them.
type node interface {
	String() string
}

type (
	nullLit struct{}
	boolLit struct{ v bool }
	intLit  struct{ v int64 }
	numLit  struct{ v float64 }
	strLit  struct{ v string }

	// fieldRef is a field path split on dots, inside backquotes too:
	// `a.b` is a.b, found nested or as a flat "a.b" key.
	fieldRef struct {
		segs     []string
		optional bool
	}

	notNode struct{ x node }
	andNode struct{ l, r node }
	orNode  struct{ l, r node }

	// cmpNode is == != < <= > >=.
	cmpNode struct {
		op   string
		l, r node
	}
	arithNode struct {
		op   string // + - * / %
		l, r node
	}
	negNode struct{ x node }

	// inNode is `x in (...)`, `x in~ (...)` and their `not in` forms.
	inNode struct {
		x           node
		list        []node
		insensitive bool
		negated     bool
	}

	// matchNode is `:`, like, like~, regex, regex~ against string constants.
	matchNode struct {
		op       string // ":" "like" "like~" "regex" "regex~"
		x        node
		patterns []string
	}

	callNode struct {
		name        string // canonical lower-case name
		insensitive bool
		args        []node
	}
)

func (nullLit) String() string     { return "null" }
func (b boolLit) String() string   { return strconv.FormatBool(b.v) }
func (n intLit) String() string    { return strconv.FormatInt(n.v, 10) }
func (n numLit) String() string    { return strconv.FormatFloat(n.v, 'g', -1, 64) }
func (s strLit) String() string    { return quote(s.v) }
func (f *fieldRef) String() string { return f.name() }
func (n notNode) String() string   { return "not " + n.x.String() }
func (n andNode) String() string   { return "(" + n.l.String() + " and " + n.r.String() + ")" }
func (n orNode) String() string    { return "(" + n.l.String() + " or " + n.r.String() + ")" }
func (n cmpNode) String() string   { return n.l.String() + " " + n.op + " " + n.r.String() }
func (n arithNode) String() string { return "(" + n.l.String() + " " + n.op + " " + n.r.String() + ")" }
func (n negNode) String() string   { return "-" + n.x.String() }

func (n inNode) String() string {
	op := " in "
	if n.insensitive {
		op = " in~ "
	}
	if n.negated {
		op = " not" + op
	}
	return n.x.String() + op + "(" + joinNodes(n.list) + ")"
}

func (n matchNode) String() string {
	ps := make([]string, len(n.patterns))
	for i, p := range n.patterns {
		ps[i] = quote(p)
	}
	return n.x.String() + " " + n.op + " (" + strings.Join(ps, ", ") + ")"
}

func (n callNode) String() string {
	name := n.name
	if n.insensitive {
		name += "~"
	}
	return name + "(" + joinNodes(n.args) + ")"
}

func joinNodes(ns []node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, ", ")
}

func (f *fieldRef) name() string {
	var b strings.Builder
	if f.optional {
		b.WriteByte('?')
	}
	for i, s := range f.segs {
		if i > 0 {
			b.WriteByte('.')
		}
		if strings.ContainsAny(s, ". ") || s == "" {
			b.WriteString("`" + s + "`")
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}

// path is the dotted ECS name of the field.
func (f *fieldRef) path() string { return strings.Join(f.segs, ".") }

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
