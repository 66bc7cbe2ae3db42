package eql

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"scsweep/extension/schema"
)

var jsonPool = []string{
	`[{"name":"x"}]`, `[{"name":"cmd.exe","pid":4},{"name":"ScreenConnect.Service.exe","pid":"5"}]`,
	`{"name":"CMD.EXE"}`, `"cmd.exe"`, `[]`, `[1,"a",null]`, `not json`, `{"name":{"x":1}}`, `null`,
}

// randTableRow fills every column of t with a value of its kind, or leaves
// it out of the row, or empty.
func randTableRow(r *rand.Rand, t *schema.Table) map[string]string {
	row := map[string]string{}
	for _, c := range t.Columns {
		if r.IntN(8) == 0 {
			continue
		}
		var v string
		switch c.Kind {
		case schema.KindInt:
			v = intPool[r.IntN(len(intPool))]
		case schema.KindUnixTime:
			v = []string{"", "0", "1700000000", "-5", "x", "4.5"}[r.IntN(6)]
		case schema.KindBool:
			v = boolPool[r.IntN(len(boolPool))]
		case schema.KindJSON:
			v = jsonPool[r.IntN(len(jsonPool))]
		default:
			if r.IntN(4) > 0 {
				v = stringPool[r.IntN(len(stringPool))]
			}
		}
		row[c.Name] = v
	}
	return row
}

// rowFields lists the fields queries over t may name: every column's and
// constant's ECS field, the objects that hold them, fields inside JSON
// columns, the extra host.id and fields nothing fills.
func rowFields(t *schema.Table) []string {
	seen := map[string]bool{"host.id": true, "unknown.field": true, "host": true, "host.id.x": true}
	add := func(f string) {
		for {
			seen[f] = true
			i := strings.LastIndexByte(f, '.')
			if i < 0 {
				return
			}
			f = f[:i]
		}
	}
	rc := &rowCompiler{table: t}
	for _, c := range t.Columns {
		add(rc.ecsName(c))
		if c.Kind == schema.KindJSON {
			add(rc.ecsName(c) + ".name")
			add(rc.ecsName(c) + ".pid")
			add(rc.ecsName(c) + ".name.x")
		}
	}
	for k := range t.Constant {
		add(k)
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	return out
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldName spells a dotted field as a query would, backquoting segments
// that need it; now and then the whole name is backquoted, which makes it
// one flat key.
func fieldName(r *rand.Rand, f string) string {
	if r.IntN(8) == 0 {
		return "`" + f + "`"
	}
	segs := strings.Split(f, ".")
	for i, s := range segs {
		if !identRe.MatchString(s) || reserved[s] {
			segs[i] = "`" + s + "`"
		}
	}
	return strings.Join(segs, ".")
}

func randRowCond(r *rand.Rand, fields []string, depth int) string {
	if depth > 0 && r.IntN(3) > 0 {
		switch r.IntN(3) {
		case 0:
			return "(" + randRowCond(r, fields, depth-1) + " and " + randRowCond(r, fields, depth-1) + ")"
		case 1:
			return "(" + randRowCond(r, fields, depth-1) + " or " + randRowCond(r, fields, depth-1) + ")"
		}
		return "not " + randRowCond(r, fields, depth-1)
	}
	f := fields[r.IntN(len(fields))]
	if r.IntN(10) == 0 {
		f = "host.id" // the extra field, rare among a table's many
	}
	name := fieldName(r, f)
	if r.IntN(4) == 0 {
		name = "?" + name
	}
	lit := func() string {
		if r.IntN(3) == 0 {
			return []string{"4", "5", "0", "1700000000", "true", "false", "null", `"2023-11-14T22:13:20Z"`, `"x"`}[r.IntN(9)]
		}
		return randLiteral(r, genField{kind: "str"})
	}
	switch r.IntN(10) {
	case 0:
		return name + " == " + lit()
	case 1:
		return name + " != " + lit()
	case 2:
		return name + " " + []string{"<", "<=", ">", ">="}[r.IntN(4)] + " " + lit()
	case 3, 4:
		return name + " : (" + quote(randPattern(r)) + ", " + quote(randPattern(r)) + ")"
	case 5:
		return name + " in (" + lit() + ", " + lit() + ")"
	case 6:
		return name + " in~ (" + lit() + ", " + lit() + ")"
	case 7:
		return "length(" + name + ") > 3"
	case 8:
		return name + " == null"
	}
	return "string(" + name + ") : " + quote(randPattern(r))
}

// TestRowQueryAgreesWithDocuments is the contract of ForTable: on random
// rows of every table and random queries, evaluating the row directly gives
// what evaluating its ECS document (with the extra field set) gives.
func TestRowQueryAgreesWithDocuments(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, tbl := range schema.Tables() {
		fields := rowFields(tbl)
		for qi := range 300 {
			src := []string{"any", "process", "file"}[r.IntN(3)] + " where " + randRowCond(r, fields, 3)
			q, err := Compile(src, Options{})
			if err != nil {
				t.Fatalf("%s: compile %s: %v", tbl.Name, src, err)
			}
			rq, err := q.ForTable(tbl, "host.id")
			if err != nil {
				t.Fatalf("%s: ForTable %s: %v", tbl.Name, src, err)
			}
			for ri := range 40 {
				row := randTableRow(r, tbl)
				host := []string{"h1", "", "CMD.EXE"}[r.IntN(3)]
				doc := tbl.ECSDocument(row)
				setNested(doc, []string{"host", "id"}, host)
				if got, want := rq.Match(row, host), q.Match(doc); got != want {
					t.Fatalf("%s query %d row %d: %s\nrow %v\ngot %v, want %v (document %v)", tbl.Name, qi, ri, src, row, got, want, doc)
				}
			}
		}
	}
}

func TestRowQueryCases(t *testing.T) {
	row := map[string]string{
		"name": "PowerShell.EXE", "parent_name": "ScreenConnect.Service.exe", "pid": "4", "parent_pid": "",
		"signature_trusted": "1", "os_type": "windows", "ancestry": `[{"name":"services.exe"},{"name":"wininit.exe"}]`,
		"time": "1700000000",
	}
	tests := []struct {
		name, query string
		want        bool
	}{
		{"the rule", screenConnectQuery, true},
		{"text column folded", `process where process.name : "powershell.exe"`, true},
		{"empty column is null", `process where process.parent.pid == null`, true},
		{"absent column is null", `process where ?process.pe.original_file_name == null`, true},
		{"int column", `process where process.pid == 4`, true},
		{"int column against string", `process where process.pid == "4"`, false},
		{"bool column", `process where process.code_signature.trusted == true`, true},
		{"time column as RFC 3339", "process where `@timestamp` == \"2023-11-14T22:13:20Z\"", true},
		{"constant", `any where event.type == "start"`, true},
		{"other category", `file where true`, false},
		{"inside JSON column", `process where scsweep.ancestry.name : "WININIT.exe"`, true},
		{"object is null", `process where process.parent == null`, true},
		{"extra field", `process where host.id == "h1"`, true},
		{"unknown field", `process where unknown.field != null`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := MustCompile(tc.query, Options{})
			rq, err := q.ForTable(table, "host.id")
			if err != nil {
				t.Fatalf("ForTable: %v", err)
			}
			if got := rq.Match(row, "h1"); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			doc := table.ECSDocument(row)
			setNested(doc, []string{"host", "id"}, "h1")
			if got := q.Match(doc); got != tc.want {
				t.Errorf("document: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRowQueryNeedsTable(t *testing.T) {
	if _, err := MustCompile(`any where true`, Options{}).ForTable(nil); err == nil {
		t.Fatal("got no error for a nil table, want one")
	}
}

func TestRowQueryMatchAllocatesNothing(t *testing.T) {
	rq, err := MustCompile(screenConnectQuery, Options{}).ForTable(table)
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]string{"name": "cmd.exe", "parent_name": "ScreenConnect.Service.exe", "os_type": "windows", "pid": strconv.Itoa(4)}
	if n := testing.AllocsPerRun(100, func() { rq.Match(row) }); n != 0 {
		t.Errorf("got %v allocations per match, want 0", n)
	}
}

// TestAnchoredWildcardSetAgrees checks the one-pass anchor filter of long
// `:` lists against trying each pattern on its own.
func TestAnchoredWildcardSetAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for range 3000 {
		n := minAnchored + r.IntN(8)
		ws := make([]*wildcard, n)
		pats := make([]string, n)
		for i := range ws {
			pats[i] = randPattern(r)
			if r.IntN(3) == 0 {
				pats[i] = "*" + pats[i] + "*" + randPattern(r)
			}
			ws[i] = newWildcard(pats[i], true)
		}
		set := newWildcardSet(ws)
		if set.pre == nil {
			t.Fatalf("got no anchor filter for %q, want one", pats)
		}
		for range 20 {
			var b strings.Builder
			words := 1 + r.IntN(4)
			if r.IntN(4) == 0 {
				words = 20 + r.IntN(40) // past the filter's list of hits
			}
			for range words {
				b.WriteString(stringPool[r.IntN(len(stringPool))])
				if r.IntN(2) == 0 {
					b.WriteString(" ")
				}
			}
			s := b.String()
			want := false
			for _, w := range ws {
				want = want || w.match(s)
			}
			if got := set.match(s); got != want {
				t.Fatalf("%q : %q: got %v, want %v", s, pats, got, want)
			}
		}
	}
}

// TestAnchoredWildcardSetManyHits covers inputs where byte pairs that start
// anchors occur more often than the filter keeps positions for.
func TestAnchoredWildcardSetManyHits(t *testing.T) {
	pats := []string{"*ZQ*", "*xyz*", "*vw*", "*uu*"}
	ws := make([]*wildcard, len(pats))
	for i, p := range pats {
		ws[i] = newWildcard(p, true)
	}
	set := newWildcardSet(ws)
	tests := []struct {
		s    string
		want bool
	}{
		{"zq" + strings.Repeat("xy", 31) + "....", true},
		{"zq" + strings.Repeat("xy", 30) + "....", true},
		{"zq" + strings.Repeat("xy", 32) + "....", true},
		{strings.Repeat("xy", 40) + "zq", true},
		{strings.Repeat("xy", 40) + "q", false},
		{strings.Repeat("XY", 40) + "xYz", true},
	}
	for _, tc := range tests {
		if got := set.match(tc.s); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestExactFoldSetAgrees checks `:` lists without wildcards, which reject
// most values by length, against lower-casing both sides rune by rune.
func TestExactFoldSetAgrees(t *testing.T) {
	pool := append([]string{"\u212a", "\u0130", "ǅ", "ǆ", "Ω", "ω", "\u2126", "ſ", "s", "\u212aİ", "kİ", "ki", "KI"}, stringPool...)
	r := rand.New(rand.NewPCG(9, 9))
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString(pool[r.IntN(len(pool))])
		}
		return b.String()
	}
	for range 3000 {
		pats := make([]string, 1+r.IntN(4))
		ws := make([]*wildcard, len(pats))
		for i := range pats {
			pats[i] = strings.NewReplacer("*", "", "?", "").Replace(word())
			ws[i] = newWildcard(pats[i], true)
		}
		set := newWildcardSet(ws)
		for range 20 {
			s := word()
			want := false
			for _, p := range pats {
				want = want || foldString(s) == foldString(p)
			}
			if got := set.match(s); got != want {
				t.Fatalf("%q : %q: got %v, want %v", s, pats, got, want)
			}
		}
	}
}
