// Command fixturegen rebuilds the PE fixtures under testdata/pe: small Go
// programs cross-compiled for windows/amd64 and windows/386 with version
// resources (go-winres), signed with osslsigncode by a test PKI generated
// here (root, intermediate, signer, expired signer, TSA, and an untrusted
// self-signed CA). Run it through `make fixtures`; it needs the go command,
// network access to the module proxy for go-winres and osslsigncode.
//
// The fixtures are gzipped to keep the repository small; tests unpack them
// into a temporary directory.
package main

import (
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sassoftware/relic/v8/lib/pkcs7"
)

const winres = "github.com/tc-hib/go-winres@v0.3.3"

// The clock of the fixture world: the signer is valid from 2024 to 2036, the
// expired signer only during 2020, and timestamps are taken at fixed times
// so a rebuild changes keys and signatures but not what the tests expect.
var (
	tsNow     = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tsExpired = time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)
)

type versionInfo struct {
	OriginalFilename, CompanyName, FileDescription, ProductName, FileVersion string
}

var (
	ordinary = versionInfo{"hello.exe", "scsweep fixtures", "scsweep test program", "scsweep", "1.2.3.4"}
	renamed  = versionInfo{"PowerShell.EXE", "Microsoft Corporation", "Windows PowerShell", "Microsoft\u00ae Windows\u00ae Operating System", "10.0.19041.1"}
)

func main() {
	out := flag.String("out", "testdata/pe", "folder to write the fixtures to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "fixturegen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	pki, err := newPKI(work, filepath.Join(out, "pki"))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "roots.pem"), pemCert(pki.root.cert), 0o644); err != nil {
		return err
	}

	hello := map[string]string{}
	for _, arch := range []string{"amd64", "386"} {
		p, err := build(work, "hello", arch, ordinary)
		if err != nil {
			return err
		}
		hello[arch] = p
	}
	ps, err := build(work, "renamed", "amd64", renamed)
	if err != nil {
		return err
	}

	legacyURL, stop, err := pki.legacyTSA(tsExpired)
	if err != nil {
		return fmt.Errorf("legacy tsa: %w", err)
	}
	defer stop()

	type step func(in, outFile string) error
	signer := func(ident *identity, ts time.Time, extra ...string) step {
		return func(in, outFile string) error { return pki.sign(ident, ts, in, outFile, extra...) }
	}
	fixtures := []struct {
		name, in string
		steps    []step
	}{
		{"unsigned-amd64.exe", hello["amd64"], nil},
		{"unsigned-386.exe", hello["386"], nil},
		{"signed-amd64.exe", hello["amd64"], []step{signer(pki.signer, time.Time{})}},
		{"signed-386.exe", hello["386"], []step{signer(pki.signer, time.Time{})}},
		{"signed-ts-amd64.exe", hello["amd64"], []step{signer(pki.signer, tsNow)}},
		{"expired-ts-amd64.exe", hello["amd64"], []step{signer(pki.expired, tsExpired)}},
		{"expired-amd64.exe", hello["amd64"], []step{signer(pki.expired, time.Time{})}},
		{"expired-legacy-ts-amd64.exe", hello["amd64"], []step{func(in, outFile string) error {
			return pki.sign(pki.expired, time.Time{}, in, outFile, "-t", legacyURL)
		}}},
		{"tampered-amd64.exe", hello["amd64"], []step{signer(pki.signer, tsNow), flipByte}},
		{"nested-amd64.exe", hello["amd64"], []step{
			signer(pki.signer, tsNow, "-h", "sha1"),
			signer(pki.signer, tsNow, "-h", "sha256", "-nest"),
		}},
		{"untrusted-amd64.exe", hello["amd64"], []step{signer(pki.untrusted, time.Time{})}},
		{"notepad.exe", ps, []step{signer(pki.signer, tsNow)}},
	}
	for _, f := range fixtures {
		cur := f.in
		for i, s := range f.steps {
			next := filepath.Join(work, fmt.Sprintf("%s.%d", f.name, i))
			if err := s(cur, next); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			cur = next
		}
		if err := gzipTo(cur, filepath.Join(out, f.name+".gz")); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		fmt.Println("wrote", f.name+".gz")
	}
	return nil
}

// build compiles an empty Go program for windows/arch with the given
// version resource.
func build(work, name, arch string, v versionInfo) (string, error) {
	dir := filepath.Join(work, name+"-"+arch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{
		"go.mod":  "module " + name + "\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			return "", err
		}
	}
	res := map[string]any{
		"RT_VERSION": map[string]any{
			"#1": map[string]any{
				"0000": map[string]any{
					"fixed": map[string]any{"file_version": v.FileVersion, "product_version": v.FileVersion},
					"info": map[string]any{
						"0409": map[string]string{
							"CompanyName":      v.CompanyName,
							"FileDescription":  v.FileDescription,
							"FileVersion":      v.FileVersion,
							"InternalName":     v.OriginalFilename,
							"LegalCopyright":   "test fixture",
							"OriginalFilename": v.OriginalFilename,
							"ProductName":      v.ProductName,
							"ProductVersion":   v.FileVersion,
						},
					},
				},
			},
		},
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "winres.json"), js, 0o644); err != nil {
		return "", err
	}
	if err := runIn(dir, nil, "go", "run", winres, "make", "--in", "winres.json", "--arch", arch); err != nil {
		return "", err
	}
	exe := filepath.Join(dir, name+".exe")
	env := []string{"GOOS=windows", "GOARCH=" + arch, "CGO_ENABLED=0"}
	if err := runIn(dir, env, "go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", exe, "."); err != nil {
		return "", err
	}
	return exe, nil
}

func runIn(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w", name, args, err)
	}
	return nil
}

// flipByte changes one byte in the middle of the code: the signature stays
// intact, the digest no longer matches.
func flipByte(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	b[0x2000] ^= 0x01
	return os.WriteFile(out, b, 0o644)
}

func gzipTo(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		f.Close()
		return err
	}
	// No name or time in the header: rebuilding unchanged input gives the
	// same bytes.
	if _, err := zw.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type identity struct {
	cert     *x509.Certificate
	key      *rsa.PrivateKey
	chain    []*x509.Certificate // issuers to ship in the signature
	certFile string
	keyFile  string
}

type pki struct {
	work string
	// keep holds the test PKI between rebuilds, so that rebuilding the
	// fixtures does not change every signature in them.
	keep                                         string
	root, inter, signer, expired, tsa, untrusted *identity
}

func newPKI(work, keep string) (*pki, error) {
	if err := os.MkdirAll(keep, 0o755); err != nil {
		return nil, err
	}
	p := &pki{work: work, keep: keep}
	var err error
	long := [2]time.Time{time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	if p.root, err = p.issue("root", "scsweep Test Root CA", nil, long, true, nil); err != nil {
		return nil, err
	}
	if p.inter, err = p.issue("inter", "scsweep Test Code Signing CA", p.root, long, true, nil); err != nil {
		return nil, err
	}
	codeSigning := []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	if p.signer, err = p.issue("signer", "scsweep Test Signer", p.inter,
		[2]time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}, false, codeSigning); err != nil {
		return nil, err
	}
	if p.expired, err = p.issue("expired", "scsweep Expired Signer", p.inter,
		[2]time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, false, codeSigning); err != nil {
		return nil, err
	}
	if p.tsa, err = p.issue("tsa", "scsweep Test TSA", p.root, long, false, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}); err != nil {
		return nil, err
	}
	other, err := p.issue("other-root", "Untrusted Test Root", nil, long, true, nil)
	if err != nil {
		return nil, err
	}
	if p.untrusted, err = p.issue("untrusted", "Untrusted Test Signer", other, long, false, codeSigning); err != nil {
		return nil, err
	}
	return p, nil
}

var serial int64 = 0x5c5e

func (p *pki) issue(name, cn string, parent *identity, validity [2]time.Time, ca bool, eku []x509.ExtKeyUsage) (*identity, error) {
	var chain []*x509.Certificate
	if parent != nil {
		chain = append([]*x509.Certificate{parent.cert}, parent.chain...)
	}
	cert, key, err := p.load(name)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		if cert, key, err = p.create(cn, parent, validity, ca, eku); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(p.keep, name+".crt.pem"), pemCert(cert), 0o644); err != nil {
			return nil, err
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := os.WriteFile(filepath.Join(p.keep, name+".key.pem"), keyPEM, 0o644); err != nil {
			return nil, err
		}
	}
	return p.writeIdentity(name, cert, key, chain)
}

// load reads a kept certificate and key; nil when there is none yet.
func (p *pki) load(name string) (*x509.Certificate, *rsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(p.keep, name+".crt.pem"))
	if os.IsNotExist(err) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(p.keep, name+".key.pem"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s: bad PEM", name)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func (p *pki) create(cn string, parent *identity, validity [2]time.Time, ca bool, eku []x509.ExtKeyUsage) (*x509.Certificate, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"scsweep test PKI"}},
		NotBefore:             validity[0],
		NotAfter:              validity[1],
		BasicConstraintsValid: true,
		IsCA:                  ca,
		ExtKeyUsage:           eku,
	}
	if len(eku) == 1 && eku[0] == x509.ExtKeyUsageTimeStamping {
		// RFC 3161 wants a TSA's one extended key usage critical, and
		// OpenSSL refuses it otherwise; crypto/x509 never marks it so.
		val, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		if err != nil {
			return nil, nil, err
		}
		tmpl.ExtKeyUsage = nil
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: val}}
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	issuer, signKey := tmpl, key
	if parent != nil {
		issuer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// writeIdentity writes the certificate chain and key where osslsigncode
// reads them.
func (p *pki) writeIdentity(name string, cert *x509.Certificate, key *rsa.PrivateKey, chain []*x509.Certificate) (*identity, error) {
	id := &identity{cert: cert, key: key, chain: chain,
		certFile: filepath.Join(p.work, name+".crt.pem"), keyFile: filepath.Join(p.work, name+".key.pem")}
	// The signature carries the signer and its issuers below the root.
	var certs []byte
	certs = append(certs, pemCert(cert)...)
	for _, c := range chain {
		if c.Subject.String() != c.Issuer.String() {
			certs = append(certs, pemCert(c)...)
		}
	}
	if err := os.WriteFile(id.certFile, certs, 0o600); err != nil {
		return nil, err
	}
	keyDER := x509.MarshalPKCS1PrivateKey(key)
	if err := os.WriteFile(id.keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return id, nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// sign signs in with osslsigncode; a non-zero ts adds an RFC 3161 timestamp
// from the local test TSA at that time.
func (p *pki) sign(id *identity, ts time.Time, in, out string, extra ...string) error {
	args := []string{"sign", "-certs", id.certFile, "-key", id.keyFile, "-n", "scsweep fixture"}
	at := tsNow
	if !ts.IsZero() {
		at = ts
		args = append(args, "-TSA-certs", p.tsa.certFile, "-TSA-key", p.tsa.keyFile,
			"-TSA-time", strconv.FormatInt(ts.Unix(), 10))
	}
	if id == p.expired {
		at = tsExpired
	}
	args = append(args, "-time", strconv.FormatInt(at.Unix(), 10))
	args = append(args, extra...)
	args = append(args, "-in", in, "-out", out)
	return runIn(p.work, nil, "osslsigncode", args...)
}

// legacyTSA serves the Authenticode (pre-RFC 3161) timestamp protocol on
// loopback, so a fixture can carry a PKCS#9 counterSignature without any
// outside service: the request is a base64 TimeStampRequest holding the
// signature's encrypted digest; the answer a base64 PKCS#7 SignedData over
// it, signed by the test TSA at the given time. osslsigncode moves its
// SignerInfo into the signature as the counterSignature attribute.
func (p *pki) legacyTSA(at time.Time) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(body))); err == nil {
			body = dec
		}
		// TimeStampRequest without its optional attributes, which no
		// client sends.
		var req struct {
			CounterSignatureType asn1.ObjectIdentifier
			Content              struct {
				ContentType asn1.ObjectIdentifier
				Content     []byte `asn1:"explicit,tag:0"`
			}
		}
		if _, err := asn1.Unmarshal(body, &req); err != nil {
			fmt.Fprintln(os.Stderr, "legacy tsa: bad request:", err)
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		b := pkcs7.NewBuilder(p.tsa.key, []*x509.Certificate{p.tsa.cert}, crypto.SHA256)
		if err := b.SetContentData(req.Content.Content); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := b.AddAuthenticatedAttribute(pkcs7.OidAttributeSigningTime, at.UTC()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		psd, err := b.Sign()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		der, err := asn1.Marshal(*psd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, base64.StdEncoding.EncodeToString(der))
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}
