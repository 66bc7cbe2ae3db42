// Package eql runs Elastic EQL single-event queries over JSON events with
// Elasticsearch's semantics, and compiles them to SQL that pre-filters
// osquery rows on the hosts.
//
// Semantics follow Elasticsearch 8.x/9.x, not the older Endgame library:
// `==` is case-sensitive without wildcards; `:` is case-insensitive and
// matches whole strings with `*` and `?`; `in` is exact and `in~` folds case;
// comparisons with null are null, `x == null` tests absence; `and`, `or` and
// `not` are three-valued; a multi-valued field matches when any element does.
// Sequences, joins, samples and pipes other than head and tail are refused
// with ErrUnsupported and the position of the construct.
//
// A query is compiled once into a tree of closures over pre-resolved field
// paths, with patterns folded and split ahead of time, so Match allocates
// nothing for the common shapes of detection rules.
//
// Where there is no index mapping to consult, the engine differs from
// Elasticsearch in small, stated ways: a field that no event has is null
// rather than a verification error; comparing a string with a number is null
// rather than an error; functions given a multi-valued field use its first
// value; regex and regex~ use Go's RE2 syntax, which covers the Lucene
// syntax rules use except its `@`, `&`, `~` and `<n-m>` operators. Case
// folding is Unicode lower-casing rune by rune.
package eql

import (
	"cmp"
	"slices"
	"strings"
)

// Options say which fields carry the event category, the time and the
// tiebreaker that orders events with equal times.
type Options struct {
	CategoryField   string // default "event.category"
	TimestampField  string // default "@timestamp"
	TiebreakerField string // optional
}

func (o Options) withDefaults() Options {
	if o.CategoryField == "" {
		o.CategoryField = "event.category"
	}
	if o.TimestampField == "" {
		o.TimestampField = "@timestamp"
	}
	return o
}

// Query is a compiled single-event query. It is safe for concurrent use.
type Query struct {
	src      string
	opts     Options
	category string
	cond     node // the condition including the category test
	pipes    []pipe
	pred     predFn
	ts, tb   *resolver
}

// Compile parses and compiles an EQL query.
func Compile(src string, opts Options) (*Query, error) {
	p, err := parse(src)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cond := p.cond
	if p.category != "" {
		cat := cmpNode{op: "==", l: &fieldRef{segs: splitField(opts.CategoryField)}, r: strLit{p.category}}
		cond = andNode{cat, cond}
	}
	pred, err := compilePred(cond)
	if err != nil {
		return nil, err
	}
	q := &Query{src: src, opts: opts, category: p.category, cond: cond, pipes: p.pipes, pred: pred,
		ts: newResolver(splitField(opts.TimestampField))}
	if opts.TiebreakerField != "" {
		q.tb = newResolver(splitField(opts.TiebreakerField))
	}
	return q, nil
}

// MustCompile is Compile for queries known to be valid; it panics otherwise.
func MustCompile(src string, opts Options) *Query {
	q, err := Compile(src, opts)
	if err != nil {
		panic(err)
	}
	return q
}

func splitField(f string) []string { return strings.Split(f, ".") }

// Source returns the query text as given.
func (q *Query) Source() string { return q.src }

// Category returns the event category the query selects, "" for `any`.
func (q *Query) Category() string { return q.category }

// Options returns the options the query was compiled with, defaults filled in.
func (q *Query) Options() Options { return q.opts }

// Match reports whether the event satisfies the condition (pipes aside).
func (q *Query) Match(ev map[string]any) bool { return q.pred(ev) == tTrue }

// Limit returns the number of results the pipes keep and whether they are
// the last ones; n < 0 means no limit.
func (q *Query) Limit() (n int, tail bool) {
	n = -1
	for _, p := range q.pipes {
		if n < 0 || p.n < n {
			n = p.n
		}
		tail = p.tail
	}
	return n, tail
}

// Run returns the matching events in result order (timestamp, then
// tiebreaker, then input order) after the head and tail pipes.
func (q *Query) Run(events []map[string]any) []map[string]any {
	var out []map[string]any
	for _, ev := range events {
		if q.Match(ev) {
			out = append(out, ev)
		}
	}
	return q.Finish(out)
}

// Finish orders events that Match accepted and applies the pipes: the second
// half of Run, for callers that stream events and keep only the matches.
// It reorders matched in place and returns a subslice of it.
func (q *Query) Finish(matched []map[string]any) []map[string]any {
	out := matched
	q.Sort(out)
	for _, p := range q.pipes {
		if p.n < len(out) {
			if p.tail {
				out = out[len(out)-p.n:]
			} else {
				out = out[:p.n]
			}
		}
	}
	return out
}

// Sort orders events by timestamp then tiebreaker, stable; events lacking a
// timestamp come last.
func (q *Query) Sort(events []map[string]any) {
	slices.SortStableFunc(events, func(a, b map[string]any) int {
		if c := orderValues(valueOf(q.ts.get(a)), valueOf(q.ts.get(b))); c != 0 {
			return c
		}
		if q.tb != nil {
			return orderValues(valueOf(q.tb.get(a)), valueOf(q.tb.get(b)))
		}
		return 0
	})
}

func orderValues(a, b value) int {
	a, b = a.first(), b.first()
	switch {
	case a.k == vNull && b.k == vNull:
		return 0
	case a.k == vNull:
		return 1
	case b.k == vNull:
		return -1
	}
	if c, ok := compareScalars(a, b); ok {
		return c
	}
	return cmp.Compare(a.k, b.k)
}

// Lookup returns the value of a dotted field of an event stored nested,
// flat or mixed, as the evaluator sees it; nil when missing.
func Lookup(ev map[string]any, field string) any {
	return newResolver(splitField(field)).get(ev)
}

// Fields returns the dotted names of the fields the query's condition
// reads, the category field included, each once. An event holding only
// these fields matches exactly as the whole event does. It returns nil
// when it cannot tell (a node it does not know): use the whole event.
func (q *Query) Fields() []string {
	seen := map[string]bool{}
	out := []string{}
	unknown := false
	var walk func(n node)
	walk = func(n node) {
		switch x := n.(type) {
		case *fieldRef:
			if p := x.path(); !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		case notNode:
			walk(x.x)
		case andNode:
			walk(x.l)
			walk(x.r)
		case orNode:
			walk(x.l)
			walk(x.r)
		case cmpNode:
			walk(x.l)
			walk(x.r)
		case arithNode:
			walk(x.l)
			walk(x.r)
		case negNode:
			walk(x.x)
		case inNode:
			walk(x.x)
			for _, e := range x.list {
				walk(e)
			}
		case matchNode:
			walk(x.x)
		case callNode:
			for _, a := range x.args {
				walk(a)
			}
		case nullLit, boolLit, intLit, numLit, strLit:
		default:
			unknown = true
		}
	}
	walk(q.cond)
	if unknown {
		return nil
	}
	return out
}
