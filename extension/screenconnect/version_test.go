package screenconnect

import (
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in   string
		want []int
	}{
		{"23.9.7.8804", []int{23, 9, 7, 8804}},
		{" 23.9.8.8811 (release)", []int{23, 9, 8, 8811}},
		{"v22.10", []int{22, 10}},
		{"23.9.", []int{23, 9}},
		{"23", []int{23}},
		{"", nil},
		{"abc", nil},
		{"1234567890.1", nil},
	}
	for _, c := range cases {
		if got := ParseVersion(c.in); !slices.Equal(got, c.want) {
			t.Errorf("ParseVersion(%q): got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestVulnerable(t *testing.T) {
	cases := []struct{ version, want string }{
		{"23.9.7.8804", "1"},
		{"23.9.7", "1"},
		{"23.9.8", "0"},
		{"23.9.8.8811", "0"},
		{"23.9.10.8817", "0"}, // numeric, not lexical: 10 > 8
		{"23.10.1", "0"},
		{"22.4.20001", "1"},
		{"6.9.21948.7000", "1"},
		{"24.1.0.8811", "0"},
		{"", ""},
		{"unknown", ""},
	}
	for _, c := range cases {
		if got := Vulnerable(c.version); got != c.want {
			t.Errorf("Vulnerable(%q): got %q, want %q", c.version, got, c.want)
		}
	}
}
