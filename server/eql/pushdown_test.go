package eql

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"scsweep/extension/schema"
)

var table = &schema.ProcessLineageEvents

// Values chosen to hit what SQL and EQL could disagree on: case, LIKE's
// escapes, GLOB's classes, quotes, non-ASCII case folding, numbers as text.
var stringPool = []string{
	"cmd.exe", "CMD.EXE", "Cmd.Exe", "powershell.exe", "PowerShell.EXE", "pwsh.dll",
	"ScreenConnect.Service.exe", "screenconnect.service.exe", "ScreenConnect.ClientService.exe",
	"a%b", "a_b", `a\b`, "[x]", "x]", "*", "?", "é", "É", "straße", "STRASSE", "\u212a", "k", "K", "İ", "i",
	"x'y", `"q"`, "50", "-3", "007", " 5", "true", "TRUE", "1", "0", "windows", "Windows", "SYSTEM",
	`C:\Windows\System32\cmd.exe`, `c:\windows\system32\CMD.exe`, "ab", "abc", "b",
}

var intPool = []string{"", "0", "1", "4", "5", "-3", "007", " 5", "+5", "x", "9007199254740993", "9223372036854775807", "4.5"}
var boolPool = []string{"", "1", "0", "true", "FALSE", "x", " 1"}

type genField struct {
	ecs  string
	kind string // str, int, bool, const, none
}

var genFields = []genField{
	{"process.name", "str"}, {"process.parent.name", "str"}, {"process.pe.original_file_name", "str"},
	{"process.command_line", "str"}, {"user.name", "str"}, {"host.os.type", "str"}, {"process.executable", "str"},
	{"process.pid", "int"}, {"process.parent.pid", "int"},
	{"process.code_signature.trusted", "bool"},
	{"event.category", "const"}, {"event.type", "const"}, {"event.kind", "const"},
	{"unknown.field", "none"}, {"process.parent", "none"}, {"@timestamp", "none"},
}

func randRow(r *rand.Rand, eid int) map[string]string {
	row := map[string]string{}
	for _, c := range table.Columns {
		var v string
		switch {
		case c.Name == "eid":
			v = strconv.Itoa(eid)
		case c.Name == "time":
			v = strconv.Itoa(1700000000 + r.IntN(1000))
		case c.Kind == schema.KindInt:
			v = intPool[r.IntN(len(intPool))]
		case c.Kind == schema.KindBool:
			v = boolPool[r.IntN(len(boolPool))]
		case c.Kind == schema.KindJSON:
			v = `[{"name":"x"}]`
		default:
			if r.IntN(4) == 0 {
				v = ""
			} else {
				v = stringPool[r.IntN(len(stringPool))]
			}
		}
		row[c.Name] = v
	}
	return row
}

func randPattern(r *rand.Rand) string {
	s := []rune(stringPool[r.IntN(len(stringPool))])
	var b strings.Builder
	for i, c := range s {
		switch r.IntN(8) {
		case 0:
			b.WriteRune('*')
			continue
		case 1:
			b.WriteRune('?')
			continue
		case 2:
			if i == 0 {
				b.WriteRune('*')
			}
		}
		b.WriteRune(c)
	}
	if r.IntN(4) == 0 {
		b.WriteRune('*')
	}
	return b.String()
}

func randLiteral(r *rand.Rand, f genField) string {
	switch r.IntN(10) {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[r.IntN(2)]
	case 2, 3:
		return []string{"0", "1", "4", "5", "-3", "4.5", "9007199254740992", "9007199254740993", "5.0"}[r.IntN(9)]
	}
	if f.kind == "const" {
		return quote([]string{"process", "start", "event", "Process", "file"}[r.IntN(5)])
	}
	return quote(stringPool[r.IntN(len(stringPool))])
}

func randCond(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) > 0 {
		switch r.IntN(4) {
		case 0:
			return "(" + randCond(r, depth-1) + " and " + randCond(r, depth-1) + ")"
		case 1:
			return "(" + randCond(r, depth-1) + " or " + randCond(r, depth-1) + ")"
		case 2:
			return "not " + randCond(r, depth-1)
		}
	}
	f := genFields[r.IntN(len(genFields))]
	name := f.ecs
	if name == "@timestamp" {
		name = "`@timestamp`"
	}
	if r.IntN(4) == 0 {
		name = "?" + name
	}
	pats := func() string {
		n := 1 + r.IntN(3)
		ps := make([]string, n)
		for i := range ps {
			ps[i] = quote(randPattern(r))
		}
		if n == 1 {
			return ps[0]
		}
		return "(" + strings.Join(ps, ", ") + ")"
	}
	lits := func() string {
		n := 1 + r.IntN(3)
		ls := make([]string, n)
		for i := range ls {
			ls[i] = randLiteral(r, f)
		}
		return "(" + strings.Join(ls, ", ") + ")"
	}
	switch r.IntN(14) {
	case 0:
		return name + " == " + randLiteral(r, f)
	case 1:
		return name + " != " + randLiteral(r, f)
	case 2:
		return name + " " + []string{"<", "<=", ">", ">="}[r.IntN(4)] + " " + randLiteral(r, f)
	case 3:
		return randLiteral(r, f) + " " + []string{"<", "==", ">", "!="}[r.IntN(4)] + " " + name
	case 4, 5:
		return name + " : " + pats()
	case 6:
		return name + " like " + pats()
	case 7:
		return name + " like~ " + pats()
	case 8:
		return name + " in " + lits()
	case 9:
		return name + " in~ " + lits()
	case 10:
		return name + " not in " + lits()
	case 11:
		return name + " regex~ " + quote(".*"+regexp.QuoteMeta(strings.ToLower(string([]rune(stringPool[r.IntN(len(stringPool))])[:1])))+".*")
	case 12:
		return "startsWith~(" + name + ", " + quote("c") + ")"
	}
	return []string{"true", "false", "null", name}[r.IntN(4)]
}

func randQuery(r *rand.Rand) string {
	cat := []string{"process", "any", "file"}[r.IntN(3)]
	return cat + " where " + randCond(r, 4)
}

// rowDB is a real SQLite file holding rows of process_lineage_events with
// the table's declared column types, as osquery's SQLite sees them.
type rowDB struct {
	db   *sql.DB
	rows []map[string]string
	docs []map[string]any // rows as the sweeper evaluates them
}

func newRowDB(tb testing.TB, rows []map[string]string) *rowDB {
	tb.Helper()
	db, err := sql.Open("sqlite", filepath.Join(tb.TempDir(), "rows.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cols := make([]string, len(table.Columns))
	marks := make([]string, len(table.Columns))
	for i, c := range table.Columns {
		cols[i] = ident(c.Name) + " " + string(c.Type)
		marks[i] = "?"
	}
	if _, err := db.Exec("CREATE TABLE " + table.Name + " (" + strings.Join(cols, ", ") + ")"); err != nil {
		tb.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	ins, err := tx.Prepare("INSERT INTO " + table.Name + " VALUES (" + strings.Join(marks, ", ") + ")")
	if err != nil {
		tb.Fatal(err)
	}
	for _, row := range rows {
		args := make([]any, len(table.Columns))
		for i, c := range table.Columns {
			args[i] = row[c.Name]
		}
		if _, err := ins.Exec(args...); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	d := &rowDB{db: db, rows: rows}
	for _, row := range rows {
		d.docs = append(d.docs, table.ECSDocument(row))
	}
	return d
}

// check runs the push-down SQL of q and reports every row the evaluator
// matches that the SQL does not return.
func (d *rowDB) check(q *Query) (where string, missed []string, err error) {
	where, err = PushDown(q, table)
	if err != nil {
		return "", nil, err
	}
	res, err := d.db.Query("SELECT eid FROM " + table.Name + " WHERE " + where)
	if err != nil {
		return where, nil, fmt.Errorf("run %s: %w", where, err)
	}
	defer res.Close()
	got := map[string]bool{}
	for res.Next() {
		var eid string
		if err := res.Scan(&eid); err != nil {
			return where, nil, err
		}
		got[eid] = true
	}
	if err := res.Err(); err != nil {
		return where, nil, err
	}
	for i, row := range d.rows {
		if q.Match(d.docs[i]) && !got[row["eid"]] {
			missed = append(missed, fmt.Sprint(row))
		}
	}
	return where, missed, nil
}

func randRows(seed uint64, n int) []map[string]string {
	r := rand.New(rand.NewPCG(seed, 7))
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = randRow(r, i)
	}
	return rows
}

func TestPushDownSupersetProperty(t *testing.T) {
	d := newRowDB(t, randRows(1, 400))
	r := rand.New(rand.NewPCG(2, 3))
	matched := 0
	for i := 0; i < 1500; i++ {
		src := randQuery(r)
		q, err := Compile(src, Options{})
		if err != nil {
			t.Fatalf("generated query %q does not compile: %v", src, err)
		}
		where, missed, err := d.check(q)
		if err != nil {
			t.Fatalf("query %q: %v", src, err)
		}
		if len(missed) > 0 {
			t.Fatalf("query %q\nSQL %s\ngot %d matching rows missing from the SQL result, want 0; first: %s", src, where, len(missed), missed[0])
		}
		for _, doc := range d.docs {
			if q.Match(doc) {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Fatal("got no matching rows over all generated queries, want some: the property would be vacuous")
	}
}

func FuzzPushDownSuperset(f *testing.F) {
	f.Add(uint64(1), "process where process.name : \"cmd.exe\"")
	f.Add(uint64(2), "process where not process.parent.name in~ (\"a%b\", \"K\")")
	f.Add(uint64(3), "")
	d := newRowDB(f, randRows(11, 300))
	f.Fuzz(func(t *testing.T, seed uint64, src string) {
		if src == "" {
			src = randQuery(rand.New(rand.NewPCG(seed, 5)))
		}
		q, err := Compile(src, Options{})
		if err != nil {
			return
		}
		where, missed, err := d.check(q)
		if err != nil {
			t.Fatalf("query %q: %v", src, err)
		}
		if len(missed) > 0 {
			t.Fatalf("query %q\nSQL %s\ngot %d matching rows missing from the SQL result, want 0; first: %s", src, where, len(missed), missed[0])
		}
	})
}
