package schema

import (
	"reflect"
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
