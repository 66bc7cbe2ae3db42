package pe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/sassoftware/relic/v8/lib/pkcs7"
)

// nsCertType encodes a Netscape certificate type BIT STRING with the given
// bits set (bit 0 first, as Netscape numbers them).
func nsCertType(t *testing.T, bits ...int) []byte {
	t.Helper()
	b := asn1.BitString{Bytes: []byte{0}, BitLength: 8}
	for _, n := range bits {
		b.Bytes[0] |= 0x80 >> n
	}
	v, err := asn1.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// chainWith builds root -> leaf where the root carries the given extra
// critical extension, and returns the root as a PEM bundle and the leaf.
func chainWith(t *testing.T, ext pkix.Extension) ([]byte, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: from, NotAfter: to,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, ExtraExtensions: []pkix.Extension{ext}}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: from, NotAfter: to,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leafCert, _ := x509.ParseCertificate(leafDER)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), leafCert
}

// TestCriticalExtensionsStayChecked shows that accepting the Debian CA's
// critical Netscape certificate type weakens nothing: a type that does not
// allow signing CAs, and any other unknown critical extension, still fail.
func TestCriticalExtensionsStayChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  pkix.Extension
		ok   bool
	}{
		{"netscape object signing CA", pkix.Extension{Id: oidNetscapeCertType, Critical: true, Value: nsCertType(t, nsObjectSigningCA)}, true},
		{"netscape SSL client only", pkix.Extension{Id: oidNetscapeCertType, Critical: true, Value: nsCertType(t, 0)}, false},
		{"netscape garbage", pkix.Extension{Id: oidNetscapeCertType, Critical: true, Value: []byte{0x05, 0x00}}, false},
		{"unknown critical extension", pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundle, leaf := chainWith(t, tc.ext)
			roots, err := ParseRoots(bundle)
			if err != nil {
				t.Fatal(err)
			}
			err = verifyChain(leaf, roots, nil, nil, x509.ExtKeyUsageCodeSigning, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			if tc.ok && err != nil {
				t.Errorf("got %v, want the chain to verify", err)
			}
			var unhandled x509.UnhandledCriticalExtension
			if !tc.ok && !errors.As(err, &unhandled) {
				t.Errorf("got %v, want an unhandled critical extension error", err)
			}
		})
	}
}

func TestUnparsedCertificates(t *testing.T) {
	parseErr := errors.New("x509: malformed certificate")
	for _, tc := range []struct {
		name    string
		invalid [][]byte
		want    bool
	}{
		{"attribute certificate in a Microsoft timestamp token", [][]byte{{0xa1, 0x82, 0x03, 0x56}}, false},
		{"malformed X.509 certificate", [][]byte{{0x30, 0x82, 0x03, 0x56}}, true},
		{"both", [][]byte{{0xa1, 0x00}, {0x30, 0x00}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unparsedCertificates(pkcs7.CertificateError{Invalid: tc.invalid, Err: parseErr})
			if (got != nil) != tc.want {
				t.Errorf("got %v, want an error: %v", got, tc.want)
			}
		})
	}
}
