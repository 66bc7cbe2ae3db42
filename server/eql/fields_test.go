package eql

import (
	"slices"
	"testing"
)

func TestQueryFields(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"category and one field", `process where process.name == "cmd.exe"`, []string{"event.category", "process.name"}},
		{"any adds no category", `any where true`, []string{}},
		{"every node kind", `process where not (a.b : "x*" or length(c) > 2 + -d) and e in (f, "y") and g like~ "z" and h in~ ("q") and ?i.j == null`,
			[]string{"event.category", "a.b", "c", "d", "e", "f", "g", "h", "i.j"}},
		{"each field once", `process where x == "1" or x == "2"`, []string{"event.category", "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Compile(c.src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := q.Fields()
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if got == nil || !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
