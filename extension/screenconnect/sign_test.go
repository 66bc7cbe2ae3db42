package screenconnect

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v8/lib/authenticode"
	"github.com/sassoftware/relic/v8/lib/certloader"
)

// signPE Authenticode-signs a PE image with a fresh self-signed certificate
// and returns the path of the signed file.
func signPE(t *testing.T, image []byte, subject string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: subject, Organization: []string{"scsweep tests"}},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := authenticode.DigestPE(bytes.NewReader(image), crypto.SHA256, false)
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	patch, _, err := digest.Sign(context.Background(), &certloader.Certificate{Leaf: cert, Certificates: []*x509.Certificate{cert}, PrivateKey: key}, nil)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "unsigned.exe")
	if err := os.WriteFile(in, image, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(dir, "ScreenConnect.Service.exe")
	if err := patch.Apply(f, out); err != nil {
		t.Fatalf("apply signature: %v", err)
	}
	return out
}

func TestDefaultIdentifySigner(t *testing.T) {
	signed := signPE(t, serverPE([4]uint16{23, 9, 8, 8811}, "23.9.8.8811"), "scsweep test signer")
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	// Tampering with the version resource after signing breaks the digest.
	i := bytes.Index(data, utf16z("23.9.8.8811"))
	if i < 0 {
		t.Fatal("version string not found in the signed image")
	}
	tampered := append([]byte(nil), data...)
	copy(tampered[i:], utf16z("23.9.9.8811"))
	tamperedPath := filepath.Join(t.TempDir(), "tampered.exe")
	if err := os.WriteFile(tamperedPath, tampered, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path, status, version string
	}{
		{"signed", signed, "signed", "23.9.8.8811"},
		{"tampered after signing", tamperedPath, "errorBadDigest", "23.9.9.8811"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := DefaultIdentify(context.Background(), c.path)
			if err != nil {
				t.Fatalf("DefaultIdentify: %v", err)
			}
			if id.SignatureStatus != c.status || id.FileVersion != c.version || !strings.Contains(id.SignerSubject, "scsweep test signer") || id.SignerTrusted != "" {
				t.Errorf("got status=%q version=%q subject=%q trusted=%q, want %q, %q, the test signer, unchecked",
					id.SignatureStatus, id.FileVersion, id.SignerSubject, id.SignerTrusted, c.status, c.version)
			}
		})
	}
}
