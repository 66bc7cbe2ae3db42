package tables

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"scsweep/extension/screenconnect"
)

func fixtureRoot(t *testing.T, name string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "testdata", "screenconnect", name)
}

// A query on root scans only that tree; without it the configured roots are
// scanned.
func TestScreenConnectRootPushdown(t *testing.T) {
	vuln, clean := fixtureRoot(t, "cve-2024-1709"), fixtureRoot(t, "clean-23.9.8")
	eng, err := NewEngine(ScreenConnect(screenconnect.Options{Roots: []string{vuln, clean}, OnlyRoots: true, Services: screenconnect.ServiceList(nil)}, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	all, err := eng.Query(context.Background(), "SELECT root, version, vulnerable FROM screenconnect_servers WHERE role = 'server' ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rows) != 2 || all.Rows[0][2] != "1" || all.Rows[1][2] != "0" {
		t.Fatalf("configured roots: got %v, want the vulnerable and the patched server", all.Rows)
	}
	one, err := eng.Query(context.Background(), "SELECT vulnerable FROM screenconnect_servers WHERE root = '"+all.Rows[1][0]+"'")
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Rows) != 1 || one.Rows[0][0] != "0" {
		t.Fatalf("root constraint: got %v, want just the patched server", one.Rows)
	}
	admins, err := eng.Query(context.Background(), "SELECT name FROM screenconnect_users WHERE is_admin = 1 ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	if len(admins.Rows) == 0 {
		t.Fatal("no admins found in the fixture trees")
	}
}
