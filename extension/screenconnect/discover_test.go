package screenconnect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageExecutable(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe" "?e=Host&y=Guest"`, `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`},
		{`C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe -run`, `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`},
		{`C:\SC\ScreenConnect.Service.EXE`, `C:\SC\ScreenConnect.Service.EXE`},
		{`"C:\unterminated\ScreenConnect.Service.exe`, `C:\unterminated\ScreenConnect.Service.exe`},
		{`/opt/screenconnect/run.sh --x`, `/opt/screenconnect/run.sh`},
		{``, ``},
	}
	for _, c := range cases {
		if got := imageExecutable(c.in); got != c.want {
			t.Errorf("imageExecutable(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestServiceRole(t *testing.T) {
	cases := []struct {
		svc  Service
		want string
	}{
		{Service{Name: "ScreenConnect Web Server", ImagePath: `"C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe"`}, "server"},
		{Service{Name: "ScreenConnect Relay", ImagePath: `"C:\Program Files (x86)\ScreenConnect\screenconnect.service.exe" relay`}, "server"},
		{Service{Name: "ScreenConnect Client (1a2b3c4d5e6f7a8b)", ImagePath: `"C:\Program Files (x86)\ScreenConnect Client (1a2b3c4d5e6f7a8b)\ScreenConnect.ClientService.exe" "?e=Access"`}, "client"},
		{Service{Name: "ScreenConnect Session Manager", ImagePath: `"C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe" session`}, "server"},
		// Same binary name under another service name is not ScreenConnect's.
		{Service{Name: "Updater", ImagePath: `C:\x\ScreenConnect.Service.exe`}, ""},
		{Service{Name: "ScreenConnect Helper", ImagePath: `C:\x\helper.exe`}, ""},
	}
	for _, c := range cases {
		if got := serviceRole(c.svc); got != c.want {
			t.Errorf("serviceRole(%q, %q): got %q, want %q", c.svc.Name, c.svc.ImagePath, got, c.want)
		}
	}
}

// writeFile creates a file and its folders.
func writeFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServersFromServiceRegistry(t *testing.T) {
	for _, r := range DefaultRoots {
		if _, err := os.Stat(r); err == nil {
			t.Skipf("this host has a ScreenConnect default folder %s; the test needs a host without one", r)
		}
	}
	dir := t.TempDir()
	server := filepath.Join(dir, "SC")
	writeFile(t, filepath.Join(server, "ScreenConnect.Service.exe"), serverPE([4]uint16{23, 9, 7, 8804}, "23.9.7.8804"))
	client := filepath.Join(dir, "ScreenConnect Client (abc)")
	writeFile(t, filepath.Join(client, "ScreenConnect.ClientService.exe"), clientPE("ScreenConnect.ClientService.exe"))

	opts := Options{
		Services: ServiceList{
			{Name: "ScreenConnect Web Server", DisplayName: "ScreenConnect Web Server", State: "running", StartType: "auto",
				ImagePath: `"` + filepath.Join(server, "ScreenConnect.Service.exe") + `" "?e=Host"`},
			{Name: "ScreenConnect Relay", State: "running", ImagePath: filepath.Join(server, "ScreenConnect.Service.exe") + " relay"},
			{Name: "ScreenConnect Client (abc)", State: "stopped", ImagePath: `"` + filepath.Join(client, "ScreenConnect.ClientService.exe") + `"`},
			{Name: "Spooler", ImagePath: `C:\Windows\System32\spoolsv.exe`},
		},
		// The same server named again as a root merges into one row.
		Roots:    []string{server},
		TempDirs: []string{},
	}
	rows, err := Servers(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2 (server and client): %v", len(rows), rows)
	}
	byRole := map[string]map[string]string{}
	for _, r := range rows {
		byRole[r["role"]] = r
	}
	checks := []struct{ role, col, want string }{
		{"server", "service_name", "ScreenConnect Web Server"},
		{"server", "service_state", "running"},
		{"server", "service_start_type", "auto"},
		{"server", "found_by", "service,root"},
		{"server", "version", "23.9.7.8804"},
		{"server", "vulnerable", "1"},
		{"client", "service_state", "stopped"},
		{"client", "version", "23.9.8.8811"},
		{"client", "vulnerable", ""},
	}
	for _, c := range checks {
		if got := byRole[c.role][c.col]; got != c.want {
			t.Errorf("%s row %s: got %q, want %q", c.role, c.col, got, c.want)
		}
	}
}

func TestServersConfiguredRootWithoutInstall(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("nothing here"))
	rows, err := Servers(context.Background(), Options{Roots: []string{dir}, OnlyRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0]["role"] != "" || rows[0]["error"] == "" {
		t.Errorf("got %v, want one row with no role and an error", rows)
	}
}

func TestServersBinaryMissingOrBroken(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"no service binary", func(dir string) { writeFile(t, filepath.Join(dir, "App_Data", "User.xml"), []byte("<Users/>")) },
			"ScreenConnect.Service.exe not found in the install folder"},
		{"binary is not a PE", func(dir string) {
			writeFile(t, filepath.Join(dir, "screenconnect.service.exe"), []byte("MZ but nothing else"))
		},
			"identify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(dir)
			rows, err := Servers(context.Background(), Options{Roots: []string{dir}, OnlyRoots: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0]["role"] != "server" || !strings.Contains(rows[0]["error"], c.want) {
				t.Errorf("got %v, want one server row whose error mentions %q", rows, c.want)
			}
		})
	}
}

type failingLister struct{}

func (failingLister) Services(context.Context) ([]Service, error) {
	return nil, errors.New("services: open service manager: Access is denied.")
}

func TestServersSayWhenTheRegistryCannotBeRead(t *testing.T) {
	rows, err := Servers(context.Background(), Options{Services: failingLister{}, TempDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range rows {
		if r["root"] == "" && strings.Contains(r["error"], "Access is denied") {
			found = true
		}
	}
	if !found {
		t.Errorf("got %v, want a row carrying the service registry error", rows)
	}
}
