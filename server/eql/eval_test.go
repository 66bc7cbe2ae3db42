package eql

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustEvent(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("event %s: %v", s, err)
	}
	return ev
}

func TestSemantics(t *testing.T) {
	ev := `{"event":{"category":["process"],"type":["start","process_start"]},
		"process":{"name":"Cmd.exe","pid":4,"args":["-Enc","AAA"],"parent":{"name":"ScreenConnect.Service.exe"}},
		"process.pe.original_file_name":"Cmd.Exe","user":{"name":"SYSTEM"},"n":2.5,"flag":true,"empty":"","nul":null,
		"host.os":{"type":"windows"},"ip":"10.1.2.3","big":9007199254740993}`
	cases := []struct {
		query string
		want  bool
	}{
		// == is case-sensitive, no wildcards
		{`process where process.name == "Cmd.exe"`, true},
		{`process where process.name == "cmd.exe"`, false},
		{`process where process.name == "Cmd*"`, false},
		// : folds case, whole string, * and ?
		{`process where process.name : "cmd.exe"`, true},
		{`process where process.name : "cmd"`, false},
		{`process where process.name : "c?d.*"`, true},
		{`process where process.name : ("a", "*.EXE")`, true},
		{`process where process.name : "*"`, true},
		{`process where process.name like "C*"`, true},
		{`process where process.name like "c*"`, false},
		{`process where process.name like~ "c*"`, true},
		{`process where process.name regex "C[a-z]+\\.exe"`, true},
		{`process where process.name regex "c[a-z]+\\.exe"`, false},
		{`process where process.name regex~ "c[a-z]+\\.exe"`, true},
		{`process where process.name regex "md"`, false},
		// in exact, in~ folds
		{`process where ?process.pe.original_file_name in ("Cmd.Exe", "x")`, true},
		{`process where ?process.pe.original_file_name in ("cmd.exe")`, false},
		{`process where process.pe.original_file_name in~ ("cmd.exe")`, true},
		{`process where process.pe.original_file_name in~ ("cmd.*")`, false},
		{`process where process.name not in ("a", "b")`, true},
		{`process where process.pid in (3, 4)`, true},
		// multi-valued: any element
		{`process where event.type == "start"`, true},
		{`process where event.type == "process_start"`, true},
		{`process where event.type != "start"`, false},
		{`process where process.args : "-enc"`, true},
		// nulls: missing fields never compare, == null tests absence
		{`process where missing == null`, true},
		{`process where missing != null`, false},
		{`process where nul == null`, true},
		{`process where process.name != null`, true},
		{`process where missing != "x"`, false},
		{`process where not (missing == "x")`, false},
		{`process where missing : "*"`, false},
		{`process where not missing : "*"`, false},
		{`process where ?missing.field in ("a")`, false},
		{`process where missing < 1 or true`, true},
		{`process where missing < 1 and false`, false},
		{`process where not (missing < 1 or false)`, false},
		// empty string is a value
		{`process where empty == ""`, true},
		{`process where empty : ""`, true},
		// numbers
		{`process where process.pid == 4.0`, true},
		{`process where process.pid < 4.5 and process.pid > 3`, true},
		{`process where n > 2 and n < 3`, true},
		{`process where big > 9007199254740992`, true},
		{`process where big == 9007199254740992`, false},
		{`process where process.pid + 1 == 5 and process.pid * 2 == 8 and process.pid / 3 == 1 and process.pid % 3 == 1`, true},
		{`process where -process.pid == -4`, true},
		{`process where flag == true and flag != false`, true},
		{`process where flag`, true},
		// types that do not compare are null
		{`process where process.name == 4`, false},
		{`process where process.name != 4`, false},
		// fields: nested, flat, mixed
		{`process where host.os.type == "windows"`, true},
		{`process where process.parent.name : "screenconnect.service.exe"`, true},
		{"process where `process.pe.original_file_name` == \"Cmd.Exe\"", true},
		// functions and their ~ forms
		{`process where startsWith(process.name, "Cmd")`, true},
		{`process where startsWith(process.name, "cmd")`, false},
		{`process where startsWith~(process.name, "cmd")`, true},
		{`process where endsWith~(process.name, ".EXE")`, true},
		{`process where stringContains(process.name, "d.e")`, true},
		{`process where indexOf(process.name, ".") == 3`, true},
		{`process where indexOf(process.name, "z") == null`, true},
		{`process where length(process.name) == 7`, true},
		{`process where substring(process.name, -3) == "exe"`, true},
		{`process where substring(process.name, 0, 3) : "CMD"`, true},
		{`process where concat(process.name, ":", process.pid) == "Cmd.exe:4"`, true},
		{`process where concat(process.name, missing) == null`, true},
		{`process where between(process.name, "C", ".") == "md"`, true},
		{`process where string(process.pid) == "4"`, true},
		{`process where number("0x10", 16) == 16 and number("2.5") == n`, true},
		{`process where add(process.pid, 1) == 5 and subtract(4, 1) == 3 and multiply(2, 3) == 6 and divide(9, 2) == 4 and modulo(9, 4) == 1`, true},
		{`process where divide(1, 0) == null`, true},
		{`process where cidrMatch(ip, "10.0.0.0/8", "192.168.0.0/16")`, true},
		{`process where cidrMatch(ip, "192.168.0.0/16")`, false},
		// category and any
		{`file where true`, false},
		{`any where true`, true},
		{`process where true`, true},
	}
	e := mustEvent(t, ev)
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			q, err := Compile(c.query, Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if got := q.Match(e); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		query       string
		line, col   int
		unsupported bool
		msgHas      string
	}{
		{"process where process.name = \"x\"", 1, 28, false, "`=`"},
		{"process where\n  a == 'x'", 2, 8, false, "single-quoted"},
		{"sequence [process where true] [file where true]", 1, 1, true, "`sequence`"},
		{"join [process where true] [file where true]", 1, 1, true, "`join`"},
		{"sample by host [any where true]", 1, 1, true, "`sample`"},
		{"process where true\n| unique process.name", 2, 3, true, "pipe `unique`"},
		{"process where true | count", 1, 22, true, "pipe `count`"},
		{"process where true | filter a", 1, 22, true, "pipe `filter`"},
		{"process where a and descendant of [process where true]", 1, 21, true, "`descendant of`"},
		{"process where (a == 1", 1, 22, false, "expected \")\""},
		{"process where a ==", 1, 19, false, "expected a value"},
		{"process where nosuch(a)", 1, 15, false, "unknown function nosuch"},
		{"process where length~(a)", 1, 15, false, "no case-insensitive"},
		{"process where startsWith(a)", 1, 15, false, "takes 2 arguments"},
		{"process a == 1", 1, 9, false, "expected `where`"},
		{"process where a : b", 1, 19, false, "takes a string constant"},
		{"process where \"abc", 1, 15, false, "unterminated string"},
		{"process where a == \"\\q\"", 1, 21, false, "invalid escape"},
		{"process where true | head x", 1, 27, false, "expected a number"},
		{"process where a == 1 b", 1, 22, false, "unexpected"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			_, err := Compile(c.query, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a positioned *Error", err)
			}
			if e.Line != c.line || e.Col != c.col {
				t.Errorf("got position %d:%d, want %d:%d (%v)", e.Line, e.Col, c.line, c.col, err)
			}
			if errors.Is(err, ErrUnsupported) != c.unsupported {
				t.Errorf("got unsupported=%v, want %v", errors.Is(err, ErrUnsupported), c.unsupported)
			}
			if !strings.Contains(err.Error(), c.msgHas) {
				t.Errorf("got %q, want it to contain %q", err, c.msgHas)
			}
		})
	}
}

func TestWildcard(t *testing.T) {
	long := strings.Repeat("a", 5000)
	cases := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", true, true},
		{"", "", true, true},
		{"", "a", true, false},
		{"a*", "A", true, true},
		{"*a", "bA", true, true},
		{"a*b*c", "aXbYc", true, true},
		{"a*b*c", "aXcYb", true, false},
		{"a?c", "abc", true, true},
		{"a?c", "ac", true, false},
		{"?", "é", true, true},
		{"?", "É", false, true},
		{"é*", "ÉTÉ", true, true},
		{"straße", "STRAßE", true, true},
		{"k", "\u212a", true, true},
		{"*ab*ab*", "xabyab", true, true},
		{"*ab*ab*", "xaby", true, false},
		{"**a**", "a", true, true},
		{"a%b_", "A%B_", true, true},
		{"*a*a*a*a*a*a*b", long, true, false},
		{"*" + strings.Repeat("?", 4999) + "*", long, true, true},
		{"*" + strings.Repeat("?", 5001) + "*", long, true, false},
	}
	for _, c := range cases {
		name := c.pattern
		if len(name) > 20 {
			name = name[:20] + "…"
		}
		t.Run(name, func(t *testing.T) {
			if got := newWildcard(c.pattern, c.fold).match(c.s); got != c.want {
				t.Errorf("match(%q, %q, fold=%v): got %v, want %v", c.pattern, c.s, c.fold, got, c.want)
			}
			if c.fold {
				if got := newWildcardSet([]*wildcard{newWildcard(c.pattern, true)}).match(c.s); got != c.want {
					t.Errorf("set match(%q, %q): got %v, want %v", c.pattern, c.s, got, c.want)
				}
			}
		})
	}
}

func TestResultOrderAndPipes(t *testing.T) {
	var evs []map[string]any
	for _, s := range []string{
		`{"event":{"category":"process"},"@timestamp":3,"id":1}`,
		`{"event":{"category":"process"},"@timestamp":1,"id":2}`,
		`{"event":{"category":"process"},"@timestamp":2,"id":3}`,
		`{"event":{"category":"process"},"id":4}`,
		`{"event":{"category":"process"},"@timestamp":1,"id":5}`,
	} {
		evs = append(evs, mustEvent(t, s))
	}
	cases := []struct {
		query string
		want  string
	}{
		{"process where true", "2 5 3 1 4"},
		{"process where true | head 2", "2 5"},
		{"process where true | tail 2", "1 4"},
		{"process where true | head 4 | tail 2", "3 1"},
		{"process where true | tail 3 | head 1", "3"},
		{"process where true | head 0", ""},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			q := MustCompile(c.query, Options{})
			var ids []string
			for _, ev := range q.Run(evs) {
				ids = append(ids, ev["id"].(json.Number).String())
			}
			if got := strings.Join(ids, " "); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestConcurrentMatch: a compiled query is shared by the sweeper's workers;
// run with -race.
func TestConcurrentMatch(t *testing.T) {
	q := MustCompile(screenConnectQuery+` or process.command_line : ("*-enc*", "*IEX*")`, Options{})
	evs := benchEvents(256)
	want := 0
	for _, ev := range evs {
		if q.Match(ev) {
			want++
		}
	}
	if want == 0 {
		t.Fatal("got no matches in the sample, want some")
	}
	results := make(chan int)
	for w := 0; w < 4; w++ {
		go func() {
			n := 0
			for _, ev := range evs {
				if q.Match(ev) {
					n++
				}
			}
			results <- n
		}()
	}
	for w := 0; w < 4; w++ {
		if got := <-results; got != want {
			t.Errorf("worker %d: got %d matches, want %d", w, got, want)
		}
	}
}

func TestIsASCII(t *testing.T) {
	for n := 0; n <= 20; n++ {
		s := strings.Repeat("a", n)
		if !isASCII(s) {
			t.Errorf("%q: got false, want true", s)
		}
		for i := 0; i < n; i++ {
			b := []byte(s)
			b[i] = 0xc3
			if isASCII(string(b)) {
				t.Errorf("%q: got true, want false", b)
			}
		}
	}
}
