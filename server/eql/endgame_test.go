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

func readDifferences(t *testing.T) map[int]string {
	t.Helper()
	f, err := os.Open(differencesFile)
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
			t.Fatalf("bad line in %s: %q", differencesFile, line)
		}
		i, err := strconv.Atoi(cols[0])
		if err != nil {
			t.Fatalf("bad index in %s: %q", differencesFile, line)
		}
		if _, ok := differenceReasons[cols[1]]; !ok {
			t.Fatalf("%s: kind %q has no reason", differencesFile, cols[1])
		}
		out[i] = cols[1]
	}
	return out
}

func writeDifferences(t *testing.T, queries []specQuery, kinds map[int]string) {
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
	if err := os.WriteFile(differencesFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEndgameSingleEvent(t *testing.T) {
	queries, events := loadSuite(t, "eql/endgame")
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
		writeDifferences(t, queries, got)
	}
	want := readDifferences(t)
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
			t.Errorf("query %d %q: listed as %s but passes now: remove it from %s", i, sq.Query, w, differencesFile)
		default:
			t.Errorf("query %d %q: got difference %s (%s), listed as %s", i, sq.Query, g, details[i], w)
		}
	}
	t.Logf("Endgame single-event queries: %d/%d pass, %d listed differences", passed, total, len(want))
}
