//go:build unix

package screenconnect

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A named pipe would block a reader forever: the walk must report it
// without opening it.
func TestExtensionsDoesNotOpenPipes(t *testing.T) {
	dir := serverTree(t, map[string]string{"App_Extensions/x.txt": "x"})
	if err := syscall.Mkfifo(filepath.Join(dir, "App_Extensions", "pipe.aspx"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	r := rowByRel(rows, "pipe.aspx")
	if r == nil || r["kind"] != "special" || r["sha256"] != "" || r["suspicion"] != ReasonLooseASPNet {
		t.Errorf("got %v, want a special row, unhashed, flagged as a loose aspnet file", r)
	}
}
