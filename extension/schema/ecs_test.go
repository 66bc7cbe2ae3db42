package schema

import (
	"reflect"
	"strings"
	"testing"
)

func TestProjectKeepsWhatFieldsReach(t *testing.T) {
	row := map[string]string{"eid": "e1", "name": "cmd.exe", "parent_name": "ScreenConnect.Service.exe", "parent_pid": "600",
		"pe_original_file_name": "Cmd.Exe", "cmdline": "cmd.exe /c whoami", "ancestry": `[{"pid":600}]`, "os_type": "windows"}
	cases := []struct {
		name   string
		fields []string
		want   map[string]any
	}{
		{"exact fields", []string{"process.name", "host.os.type"},
			map[string]any{"process": map[string]any{"name": "cmd.exe"}, "host": map[string]any{"os": map[string]any{"type": "windows"}}}},
		{"an object takes what lies under it", []string{"process.parent"},
			map[string]any{"process": map[string]any{"parent": map[string]any{"name": "ScreenConnect.Service.exe", "pid": int64(600)}}}},
		{"a field inside a JSON column takes the column", []string{"scsweep.ancestry.pid"},
			map[string]any{"scsweep": map[string]any{"ancestry": []any{map[string]any{"pid": float64(600)}}}}},
		{"no field takes nothing but the constants", nil, map[string]any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ProcessLineageEvents.Project(c.fields).Document(row)
			want := ProcessLineageEvents.document(nil, row) // the constants
			for k, v := range c.want {
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestReusingFillsAsDocument(t *testing.T) {
	fields := []string{"process.name", "process.parent.name", "host.os.type", "event.category", "event.id"}
	p := ProcessLineageEvents.Project(fields)
	fill, ok := p.Reusing(fields)
	if !ok {
		t.Fatal("got no reusing filler for fields that are all columns or constants, want one")
	}
	rows := []map[string]string{
		{"eid": "1", "name": "cmd.exe", "parent_name": "ScreenConnect.Service.exe", "os_type": "windows"},
		{"eid": "2", "name": "", "os_type": "windows"},
		{"eid": "3", "parent_name": "x.exe"},
		{},
	}
	for i, row := range rows {
		want := p.Document(row)
		got := fill(row)
		for _, f := range fields {
			if g, w := lookup(got, f), lookup(want, f); !reflect.DeepEqual(g, w) {
				t.Errorf("row %d field %s: got %v, want %v", i, f, g, w)
			}
		}
	}
	if _, ok := p.Reusing([]string{"process.parent"}); ok {
		t.Errorf("got a reusing filler for a field naming an object, want none")
	}
}

func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[seg]; !ok {
			return nil
		}
	}
	return cur
}
