package eql

import (
	"bytes"
	"encoding/json"
	"testing"
)

var fuzzEvents = []string{
	`{"event":{"category":["process"],"type":["start","process_start"]},"host":{"os":{"type":"windows"}},"process":{"name":"cmd.exe","parent":{"name":"ScreenConnect.Service.exe"},"pid":4}}`,
	`{"event.category":"process","process.name":"PowerShell.EXE","process.args":["-enc","x"],"process":{"pe":{"original_file_name":"PowerShell.EXE"}}}`,
	`{"process":[{"name":"a"},{"name":"B"}],"n":1.5,"b":true,"z":null}`,
}

// FuzzParse: no input makes the parser or compiler panic or hang, and a
// rejected query always says where.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		screenConnectQuery,
		`process where true | head 6`,
		`file where substring(file_name, -4, -1) : ".ex" and not x in~ ("a", 1, null)`,
		`any where between~(a, "s", "E", true) like~ ("*x?", "y") or b regex ".*" | tail 2`,
		"sequence [process where true] [file where true]",
		"process where `a.b`.c == \"\\u{1F600}\" and ?d.e != -1.5e3",
		`process where """raw \n""" == concat(a, 1, true)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Compile(src, Options{})
		if err != nil {
			if e, ok := err.(*Error); ok && (e.Line < 1 || e.Col < 1) {
				t.Fatalf("error %v: got position %d:%d, want a 1-based position", err, e.Line, e.Col)
			}
			return
		}
		for _, s := range fuzzEvents {
			var ev map[string]any
			if err := json.Unmarshal([]byte(s), &ev); err != nil {
				t.Fatal(err)
			}
			q.Match(ev)
		}
		if _, err := PushDown(q, table); err != nil {
			t.Fatalf("push-down of a compiled query %q: %v", src, err)
		}
		if _, err := q.ForTable(table, "host.id"); err != nil {
			t.Fatalf("row compile of a compiled query %q: %v", src, err)
		}
	})
}

// FuzzRowQuery: evaluating a row directly agrees with evaluating its ECS
// document, for any query and any column values.
func FuzzRowQuery(f *testing.F) {
	f.Add(screenConnectQuery, "cmd.exe", "ScreenConnect.Service.exe", "Cmd.Exe", "4", "1", `[{"name":"x"}]`, "h1")
	f.Add(`process where process.pid > 3 and process.code_signature.trusted == true`, "a", "b", "", "007", "TRUE", "", "")
	f.Add("any where scsweep.ancestry.name : \"X*\" or `process.name` == null or host.id == \"h\"", "", "", "", "x", "x", `{"name":"x"}`, "h")
	f.Fuzz(func(t *testing.T, src, name, parent, ofn, pid, trusted, ancestry, host string) {
		q, err := Compile(src, Options{})
		if err != nil {
			return
		}
		rq, err := q.ForTable(table, "host.id")
		if err != nil {
			t.Fatalf("ForTable %q: %v", src, err)
		}
		row := map[string]string{"name": name, "parent_name": parent, "pe_original_file_name": ofn,
			"pid": pid, "signature_trusted": trusted, "ancestry": ancestry, "time": pid, "os_type": "windows"}
		doc := table.ECSDocument(row)
		setNested(doc, []string{"host", "id"}, host)
		if got, want := rq.Match(row, host), q.Match(doc); got != want {
			t.Fatalf("%q on row %v: got %v, want %v", src, row, got, want)
		}
	})
}

// FuzzEval: any compiled query over any JSON event evaluates without panic.
func FuzzEval(f *testing.F) {
	for _, s := range fuzzEvents {
		f.Add(screenConnectQuery, s)
		f.Add(`any where length(process.name) > 3 and indexOf~(process.name, "E", 1) == 2 and add(n, 1) < 3`, s)
		f.Add(`any where cidrMatch(ip, "10.0.0.0/8") or number(x, 16) == 5 or process.name : "*a*b?c*"`, s)
	}
	f.Fuzz(func(t *testing.T, src, event string) {
		q, err := Compile(src, Options{})
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(event)))
		dec.UseNumber()
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			return
		}
		q.Run([]map[string]any{ev, ev})
	})
}
