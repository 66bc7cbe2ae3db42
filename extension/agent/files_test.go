package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "enroll_secret")
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(secret, []byte("  s3cret-value\n"), 0o600)
	os.WriteFile(ca, []byte("PEM"), 0o600)
	cfg, err := FromFiles("wss://sweeper:8443/ws", secret, ca, "host-7")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EnrollSecret != "s3cret-value" || string(cfg.CAPEM) != "PEM" || cfg.HostID != "host-7" || cfg.URL != "wss://sweeper:8443/ws" {
		t.Errorf("got %+v, want the files' contents, trimmed", cfg)
	}
	if _, err := FromFiles("wss://x", secret, filepath.Join(dir, "missing.pem"), ""); err == nil {
		t.Errorf("missing CA file: got nil error, want one")
	}
	if _, err := FromFiles("wss://x", filepath.Join(dir, "missing"), ca, ""); err == nil {
		t.Errorf("missing secret file: got nil error, want one")
	}
}
