package eql

import "testing"

// Backquotes escape characters only: `process.name` is process.name, as
// Elasticsearch reads it, whether the event holds it nested or flat.
func TestBackquotedDottedNameIsTheField(t *testing.T) {
	nested := map[string]any{"event": map[string]any{"category": "process"}, "process": map[string]any{"name": "cmd.exe"}}
	flat := map[string]any{"event.category": "process", "process.name": "cmd.exe"}
	for _, src := range []string{
		"process where `process.name` == \"cmd.exe\"",
		"process where `process`.name == \"cmd.exe\"",
		"process where process.`name` : \"CMD.EXE\"",
	} {
		q, err := Compile(src, Options{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for name, ev := range map[string]map[string]any{"nested": nested, "flat": flat} {
			if !q.Match(ev) {
				t.Errorf("%s on the %s event: got no match, want one", src, name)
			}
		}
	}
	q := MustCompile("process where `process.name` == null", Options{})
	if q.Match(nested) {
		t.Errorf("`process.name` == null matched an event that has process.name")
	}
}
