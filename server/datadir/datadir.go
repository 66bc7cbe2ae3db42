// Package datadir bootstraps the sweeper's data directory: on first start it
// creates the database, a private CA with the server's TLS certificate, the
// query signing key, the enrollment secret and the API token; on later
// starts it loads the same files, so enrolled agents keep trusting it.
//
// Secrets are written with mode 0600 and created exclusively: two sweepers
// starting on one empty directory cannot end up with different keys.
package datadir

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the data directory.
const (
	DatabaseFile     = "sweeper.db"
	CAFile           = "tls/ca.pem"
	CAKeyFile        = "tls/ca.key"
	CertFile         = "tls/server.pem"
	KeyFile          = "tls/server.key"
	SigningKeyFile   = "signing.key"
	EnrollSecretFile = "enroll_secret"
	APITokenFile     = "api_token"
)

// Dir is a bootstrapped data directory.
type Dir struct {
	Path string
	// Created lists the files this call created (empty on a later start).
	Created []string

	EnrollSecret string
	APIToken     string
	SigningKey   ed25519.PrivateKey
	// CAPEM is the CA certificate agents pin (the content of CAFile).
	CAPEM []byte
	// Certificate is the server's TLS certificate, signed by the CA.
	Certificate tls.Certificate
}

// Options shape what a first start creates.
type Options struct {
	// Hosts are the DNS names and IP addresses the server certificate is
	// valid for; localhost and 127.0.0.1 are always included.
	Hosts []string
}

// File returns the path of a data directory file.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, filepath.FromSlash(name)) }

// DatabasePath is where the store lives.
func (d *Dir) DatabasePath() string { return d.File(DatabaseFile) }

// TLSConfig returns the server side TLS configuration.
func (d *Dir) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{d.Certificate}, MinVersion: tls.VersionTLS12}
}

// ClientTLSConfig returns a client configuration that trusts only the CA:
// what an agent or the CLI uses.
func (d *Dir) ClientTLSConfig() (*tls.Config, error) {
	return ClientTLS(d.CAPEM)
}

// ClientTLS builds a client configuration pinned to the given CA PEM.
func ClientTLS(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("datadir: no certificate in CA PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Open bootstraps dir: every missing file is created, every present one
// loaded and checked.
func Open(dir string, opt Options) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	d := &Dir{Path: dir}
	var err error
	if d.EnrollSecret, err = d.secret(EnrollSecretFile); err != nil {
		return nil, err
	}
	if d.APIToken, err = d.secret(APITokenFile); err != nil {
		return nil, err
	}
	if err := d.signingKey(); err != nil {
		return nil, err
	}
	if err := d.tls(opt); err != nil {
		return nil, err
	}
	return d, nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// createOrRead writes content to name if it does not exist (exclusively,
// 0600) and returns what the file holds.
func (d *Dir) createOrRead(name string, content func() ([]byte, error)) ([]byte, error) {
	p := d.File(name)
	b, err := os.ReadFile(p)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	c, err := content()
	if err != nil {
		return nil, fmt.Errorf("datadir: create %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race: use its file.
		return os.ReadFile(p)
	}
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	if _, err := f.Write(c); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("datadir: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("datadir: write %s: %w", name, err)
	}
	d.Created = append(d.Created, name)
	return c, nil
}

func (d *Dir) secret(name string) (string, error) {
	b, err := d.createOrRead(name, func() ([]byte, error) { return []byte(randomToken() + "\n"), nil })
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 16 {
		return "", fmt.Errorf("datadir: %s holds %d characters, want at least 16", d.File(name), len(s))
	}
	return s, nil
}

func (d *Dir) signingKey() error {
	b, err := d.createOrRead(SigningKeyFile, func() ([]byte, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	})
	if err != nil {
		return err
	}
	key, err := parseKey(b)
	if err != nil {
		return fmt.Errorf("datadir: %s: %w", d.File(SigningKeyFile), err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return fmt.Errorf("datadir: %s is a %T, want an ed25519 key", d.File(SigningKeyFile), key)
	}
	d.SigningKey = ed
	return nil
}

// PublicKeyPEM is the signing key's public half, for agents that want to
// pin it beside the CA.
func (d *Dir) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(d.SigningKey.Public())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func parseKey(b []byte) (any, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParsePKCS8PrivateKey(blk.Bytes)
}

// newECKeyPEM makes a P-256 key, PKCS#8 in PEM: the CA's and the server's.
func newECKeyPEM() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func (d *Dir) tls(opt Options) error {
	var caKey *ecdsa.PrivateKey
	var caCert *x509.Certificate
	keyPEM, err := d.createOrRead(CAKeyFile, newECKeyPEM)
	if err != nil {
		return err
	}
	k, err := parseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("datadir: %s: %w", d.File(CAKeyFile), err)
	}
	caKey, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("datadir: %s is a %T, want an ECDSA key", d.File(CAKeyFile), k)
	}
	d.CAPEM, err = d.createOrRead(CAFile, func() ([]byte, error) {
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "scsweep sweeper CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().AddDate(10, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
	})
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(d.CAPEM)
	if blk == nil {
		return fmt.Errorf("datadir: %s: no PEM block", d.File(CAFile))
	}
	if caCert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		return fmt.Errorf("datadir: %s: %w", d.File(CAFile), err)
	}
	srvKeyPEM, err := d.createOrRead(KeyFile, newECKeyPEM)
	if err != nil {
		return err
	}
	sk, err := parseKey(srvKeyPEM)
	if err != nil {
		return fmt.Errorf("datadir: %s: %w", d.File(KeyFile), err)
	}
	srvKey, ok := sk.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("datadir: %s is a %T, want an ECDSA key", d.File(KeyFile), sk)
	}
	certPEM, err := d.createOrRead(CertFile, func() ([]byte, error) {
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: "scsweep sweeper"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().AddDate(10, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		hosts := append([]string{"localhost", "127.0.0.1", "::1"}, opt.Hosts...)
		if hn, err := os.Hostname(); err == nil {
			hosts = append(hosts, hn)
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, srvKey.Public(), caKey)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
	})
	if err != nil {
		return err
	}
	d.Certificate, err = tls.X509KeyPair(certPEM, srvKeyPEM)
	if err != nil {
		return fmt.Errorf("datadir: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(d.Certificate.Certificate[0])
	if err != nil {
		return fmt.Errorf("datadir: server certificate: %w", err)
	}
	if err := leaf.CheckSignatureFrom(caCert); err != nil {
		return fmt.Errorf("datadir: %s is not signed by %s: %w", d.File(CertFile), d.File(CAFile), err)
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
