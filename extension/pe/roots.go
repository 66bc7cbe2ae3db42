package pe

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// LoadRoots reads a PEM bundle of trusted roots. Certificates with critical
// extensions crypto/x509 does not know are accepted only where
// prepareCerts understands and checks them.
func LoadRoots(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pe: roots: %w", err)
	}
	return ParseRoots(data)
}

// ParseRoots is LoadRoots for a bundle in memory.
func ParseRoots(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pe: roots: certificate %d: %w", n+1, err)
		}
		prepareCerts(c)
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("pe: roots: no certificate in the bundle")
	}
	return pool, nil
}

// Netscape certificate type (RFC-less, from Netscape's spec): a BIT STRING
// whose bits restrict what the certificate may be used for. The Debian
// Secure Boot CA marks it critical.
var oidNetscapeCertType = asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 1, 1}

const (
	nsObjectSigning   = 3 // bit numbers, most significant first
	nsSSLCA           = 5
	nsSMIMECA         = 6
	nsObjectSigningCA = 7
)

// prepareCerts lets crypto/x509 verify certificates that carry a critical
// extension it does not process but that we do. Each such extension is
// checked here and removed from UnhandledCriticalExtensions only when it
// allows code signing; any other unknown critical extension stays and fails
// verification, as it must.
func prepareCerts(lists ...any) {
	for _, l := range lists {
		switch v := l.(type) {
		case *x509.Certificate:
			prepareCert(v)
		case []*x509.Certificate:
			for _, c := range v {
				prepareCert(c)
			}
		}
	}
}

func prepareCert(c *x509.Certificate) {
	if c == nil || len(c.UnhandledCriticalExtensions) == 0 {
		return
	}
	kept := c.UnhandledCriticalExtensions[:0:0]
	for _, oid := range c.UnhandledCriticalExtensions {
		if oid.Equal(oidNetscapeCertType) && netscapeTypeAllows(c) {
			continue
		}
		kept = append(kept, oid)
	}
	c.UnhandledCriticalExtensions = kept
}

// netscapeTypeAllows reports whether the certificate's Netscape type permits
// what it is used for in a code signing chain: signing CAs for a CA, object
// signing for a leaf.
func netscapeTypeAllows(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidNetscapeCertType) {
			continue
		}
		var bits asn1.BitString
		if rest, err := asn1.Unmarshal(e.Value, &bits); err != nil || len(rest) != 0 {
			return false
		}
		if c.IsCA {
			return bits.At(nsObjectSigningCA) == 1 || bits.At(nsSSLCA) == 1 || bits.At(nsSMIMECA) == 1
		}
		return bits.At(nsObjectSigning) == 1
	}
	return false
}
