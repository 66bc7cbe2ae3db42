package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scsweep.conf")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c, err := Load(write(t, `{"events_db": "/tmp/e.db", "generate_timeout": "3s", "screenconnect_roots": ["/srv/sc"]}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.EventsDB != "/tmp/e.db" || c.GenerateTimeout.Duration != 3*time.Second || len(c.ScreenConnectRoots) != 1 {
		t.Fatalf("got %+v", c)
	}
	if c.MaxRows != Default().MaxRows {
		t.Fatalf("unset max_rows: got %d, want the default %d", c.MaxRows, Default().MaxRows)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]string{
		"unknown key":      `{"event_db": "x"}`,
		"bad duration":     `{"generate_timeout": "soon"}`,
		"not json":         `events_db = "x"`,
		"invalid max rows": `{"max_rows": 0}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(write(t, body), true); err == nil {
				t.Fatal("got nil error")
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent"), true); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("named but missing: got %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent"), false); err != nil {
		t.Fatalf("default path missing: got %v, want defaults", err)
	}
}
