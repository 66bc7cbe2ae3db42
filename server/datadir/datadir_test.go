package datadir

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestOpenCreatesThenReuses(t *testing.T) {
	dir := t.TempDir()
	d1, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d1.Created) != 7 {
		t.Errorf("first start created %v, want 7 files", d1.Created)
	}
	for _, name := range []string{SigningKeyFile, EnrollSecretFile, APITokenFile, CAKeyFile, KeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	d2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Created) != 0 {
		t.Errorf("second start created %v, want nothing", d2.Created)
	}
	if d1.EnrollSecret != d2.EnrollSecret || d1.APIToken != d2.APIToken || !d1.SigningKey.Equal(d2.SigningKey) || string(d1.CAPEM) != string(d2.CAPEM) {
		t.Errorf("second start loaded different secrets than the first created")
	}
	if d1.EnrollSecret == d1.APIToken {
		t.Errorf("enroll secret and api token are equal, want independent secrets")
	}
}

func TestOpenRefusesDamagedFiles(t *testing.T) {
	cases := []struct{ file, content string }{
		{SigningKeyFile, "not a key"},
		{EnrollSecretFile, "short"},
		{CAFile, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Open(dir, Options{}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir, Options{}); err == nil {
				t.Errorf("got nil error with a damaged %s, want one", c.file)
			}
		})
	}
}

func TestPinnedCAAcceptsServerAndRefusesOthers(t *testing.T) {
	d, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", d.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	dial := func(caPEM []byte) error {
		cfg, err := ClientTLS(caPEM)
		if err != nil {
			return err
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(d.CAPEM); err != nil {
		t.Errorf("pinned to the right CA: got %v, want a handshake", err)
	}
	if err := dial(other.CAPEM); err == nil {
		t.Errorf("pinned to another CA: got a handshake, want refusal")
	}
}
