// Package peers finds the outside reference material (Elastic's and
// Endgame's EQL suites, real rules, real telemetry) that tests compare
// scsweep against. The material is never part of the project: it lives in
// ../shared/peers beside the checkout, or where SCSWEEP_PEERS points, and a
// test that needs it skips with a message when it is absent.
package peers

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the peers folder, or "" when there is none.
func Dir() string {
	if d := os.Getenv("SCSWEEP_PEERS"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		return ""
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "peers")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns the path of rel inside the peers folder, skipping the test
// with a clear message when the folder or the file is missing.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	d := Dir()
	if d == "" {
		tb.Skip("reference material not found: ../shared/peers is absent (set SCSWEEP_PEERS to its path)")
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("reference material %s not found: %v", rel, err)
	}
	return p
}
