package eql

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden and known-difference files from the current code")

// differenceReasons says why each kind of Endgame expectation is not
// Elasticsearch's. Every entry of testdata/endgame_differences.txt names one.
var differenceReasons = map[string]string{
	"eq-operator":      "Endgame accepts `=` as equality; Elasticsearch rejects it (use == or :)",
	"single-quote":     "Endgame accepts single-quoted strings; Elasticsearch accepts only double-quoted and \"\"\"raw\"\"\" strings",
	"pipe":             "filter, unique, unique_count, count and sort pipes are Endgame pipes; Elasticsearch single-event queries take head and tail only",
	"lineage":          "`child of`, `descendant of` and `event of` are Endgame lineage constructs that Elasticsearch does not have",
	"endgame-function": "arrayContains, arraySearch, arrayCount, match, matchLite, safe ... are Endgame functions, unknown to Elasticsearch",
	"array-index":      "field[N] indexing is Endgame syntax; Elasticsearch has no array subscripts",
	"case-insensitive": "Endgame compares strings case-insensitively (query flagged case_insensitive); Elasticsearch's ==, !=, <, >, in and string functions without ~ are case-sensitive",
	"wildcard-equals":  "Endgame expands * in ==; Elasticsearch's == has no wildcards (use :)",
}

const differencesFile = "testdata/endgame_differences.txt"

// outcome classifies how a query fares: "" when it passes, else a kind of
// differenceReasons (or "unexplained").
func outcome(sq specQuery, events []map[string]any) (string, string) {
	q, err := Compile(sq.Query, suiteOptions)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "`=` is not an EQL operator"):
			return "eq-operator", msg
		case strings.Contains(msg, "single-quoted"):
			return "single-quote", msg
		case strings.Contains(msg, "pipe `"):
			return "pipe", msg
		case strings.Contains(msg, " of` is not supported"):
			return "lineage", msg
		case strings.Contains(msg, "unknown function"):
			return "endgame-function", msg
		case strings.Contains(msg, `unexpected "["`):
			return "array-index", msg
		}
		return "unexplained", msg
	}
	got := runIDs(q, events)
	want := sq.ExpectedEventID
	if want == nil {
		want = []int64{}
	}
	if reflect.DeepEqual(got, want) {
		return "", ""
	}
	detail := fmt.Sprintf("got %v, want %v", got, want)
	switch {
	case sq.CaseInsensitive:
		return "case-insensitive", detail
	case strings.Contains(sq.Query, "==") && strings.Contains(sq.Query, `*`):
		return "wildcard-equals", detail
	}
	return "unexplained", detail
}

func readDifferences(t *testing.T, file string) map[int]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open known differences: %v", err)
	}
	defer f.Close()
	out := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.SplitN(line, "\t", 3)
		if len(cols) < 2 {
			t.Fatalf("bad line in %s: %q", file, line)
		}
		i, err := strconv.Atoi(cols[0])
		if err != nil {
			t.Fatalf("bad index in %s: %q", file, line)
		}
		if _, ok := differenceReasons[cols[1]]; !ok {
			t.Fatalf("%s: kind %q has no reason", file, cols[1])
		}
		out[i] = cols[1]
	}
	return out
}

func writeDifferences(t *testing.T, file string, queries []specQuery, kinds map[int]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Endgame EQL suite (eql/endgame/test_queries.toml): single-event queries whose\n")
	b.WriteString("# expected ids follow Endgame's semantics, not Elasticsearch's. The test fails when a\n")
	b.WriteString("# listed query starts passing or an unlisted one fails. Regenerate with -update.\n#\n")
	b.WriteString("# kind\treason\n")
	names := make([]string, 0, len(differenceReasons))
	for k := range differenceReasons {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "# %s\t%s\n", k, differenceReasons[k])
	}
	b.WriteString("#\n# index (0-based, in file order)\tkind\tquery (first line)\n")
	idx := make([]int, 0, len(kinds))
	for i := range kinds {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		first := strings.TrimSpace(strings.SplitN(strings.TrimSpace(queries[i].Query), "\n", 2)[0])
		fmt.Fprintf(&b, "%d\t%s\t%s\n", i, kinds[i], first)
	}
	if file == translatedDifferencesFile {
		b.WriteString("# (queries rewritten first: 'x' and ?'x' strings as Elasticsearch strings, = as ==)\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEndgameSingleEvent(t *testing.T) {
	runEndgame(t, differencesFile, nil)
}

// TestEndgameTranslated runs the same queries after rewriting Endgame-only
// syntax that has an exact Elasticsearch spelling ('x' strings, ?'raw'
// strings, = for ==), so the semantics behind the syntax are checked too.
func TestEndgameTranslated(t *testing.T) {
	runEndgame(t, translatedDifferencesFile, translateEndgame)
}

const translatedDifferencesFile = "testdata/endgame_translated_differences.txt"

// translateEndgame rewrites single-quoted and ?-raw strings as
// Elasticsearch strings and a lone = as ==, leaving everything else alone.
func translateEndgame(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(q) && q[j] != '"' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '?' && i+1 < len(q) && (q[i+1] == '\'' || q[i+1] == '"'):
			end := strings.IndexByte(q[i+2:], q[i+1])
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(`"""` + q[i+2:i+2+end] + `"""`)
			i += 2 + end
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for j < len(q) && q[j] != '\'' {
				if q[j] == '\\' && j+1 < len(q) {
					lit.WriteByte(q[j])
					j++
				} else if q[j] == '"' {
					lit.WriteByte('\\')
				}
				lit.WriteByte(q[j])
				j++
			}
			b.WriteString(`"` + strings.ReplaceAll(lit.String(), `\'`, `'`) + `"`)
			i = j
		case c == '=' && (i == 0 || !strings.ContainsRune("=!<>", rune(q[i-1]))) && (i+1 >= len(q) || q[i+1] != '='):
			b.WriteString("==")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func runEndgame(t *testing.T, file string, translate func(string) string) {
	queries, events := loadSuite(t, "eql/endgame")
	if translate != nil {
		for i := range queries {
			queries[i].Query = translate(queries[i].Query)
		}
	}
	got := map[int]string{}
	details := map[int]string{}
	total, passed := 0, 0
	for i, sq := range queries {
		if !singleEvent(sq.Query) {
			continue
		}
		total++
		kind, detail := outcome(sq, events)
		if kind == "" {
			passed++
			continue
		}
		got[i], details[i] = kind, detail
	}
	if *update {
		for i, k := range got {
			if k == "unexplained" {
				t.Errorf("query %d %q: unexplained difference: %s", i, queries[i].Query, details[i])
			}
		}
		writeDifferences(t, file, queries, got)
	}
	want := readDifferences(t, file)
	for i, sq := range queries {
		if !singleEvent(sq.Query) {
			continue
		}
		g, w := got[i], want[i]
		switch {
		case g == w:
		case w == "":
			t.Errorf("query %d %q: unlisted difference %s: %s", i, sq.Query, g, details[i])
		case g == "":
			t.Errorf("query %d %q: listed as %s but passes now: remove it from %s", i, sq.Query, w, file)
		default:
			t.Errorf("query %d %q: got difference %s (%s), listed as %s", i, sq.Query, g, details[i], w)
		}
	}
	t.Logf("Endgame single-event queries (%s): %d/%d pass, %d listed differences", file, passed, total, len(want))
}
