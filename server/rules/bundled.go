package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed bundled/*.toml
var bundledFS embed.FS

// Bundled returns the rules the sweeper ships with: today the ScreenConnect
// server rule, the reason scsweep exists.
func Bundled() ([]*Rule, error) {
	names, err := fs.Glob(bundledFS, "bundled/*.toml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Rule
	for _, n := range names {
		b, err := bundledFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		r, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("rules: bundled %s: %w", n, err)
		}
		out = append(out, r)
	}
	return out, nil
}
