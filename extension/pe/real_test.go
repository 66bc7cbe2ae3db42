package pe

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v8/lib/authenticode"
)

// Files no one here wrote: Debian's signed EFI binaries (shim signed by
// Microsoft's UEFI CA with a Microsoft timestamp; grub, fallback and
// MokManager signed by Debian's Secure Boot CA) and Wine's PE files. They
// are fetched with apt-get when this machine can; otherwise the tests skip.

// aptExtract downloads packages with apt-get and unpacks the files whose
// paths end with one of wanted into a temporary directory.
func aptExtract(t *testing.T, pkgs []string, wanted ...string) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not available: real-file tests need Debian's packages")
	}
	dir := t.TempDir()
	cmd := exec.Command("apt-get", append([]string{"download", "-q"}, pkgs...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("apt-get download %v failed (run apt-get update first?): %v\n%s", pkgs, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	root := filepath.Join(dir, "root")
	for _, deb := range debs {
		if out, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "$3"`, "sh", deb, mkdir(t, root), "*windows/*").CombinedOutput(); err == nil {
			continue
		} else if !strings.Contains(deb, "wine") {
			if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, out)
			}
		} else {
			t.Fatalf("unpacking %s: %v\n%s", deb, err, out)
		}
	}
	found := map[string]string{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			for _, w := range wanted {
				if strings.HasSuffix(p, w) {
					found[w] = p
				}
			}
		}
		return nil
	})
	for _, w := range wanted {
		if found[w] == "" {
			t.Fatalf("%s not found in %v", w, pkgs)
		}
	}
	return found
}

func mkdir(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// findCertificate finds the DER certificate with the given subject CN
// embedded anywhere in data. shim embeds the Debian Secure Boot CA it trusts
// (its vendor certificate); that is the root Debian's grub chains to.
func findCertificate(data []byte, cn string) *x509.Certificate {
	for i := 0; i+4 < len(data); i++ {
		if data[i] != 0x30 || data[i+1] != 0x82 {
			continue
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if i+4+n > len(data) {
			continue
		}
		if c, err := x509.ParseCertificate(data[i : i+4+n]); err == nil && c.Subject.CommonName == cn {
			return c
		}
	}
	return nil
}

// signatureCerts returns the certificates a file's primary signature and its
// timestamp carry, by subject CN.
func signatureCerts(t *testing.T, path string) map[string]*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := authenticode.VerifyPE(bytes.NewReader(data), true)
	if err != nil || len(sigs) == 0 {
		t.Fatalf("reading the signature of %s: %v", path, err)
	}
	m := map[string]*x509.Certificate{}
	add := func(cs []*x509.Certificate) {
		for _, c := range cs {
			m[c.Subject.CommonName] = c
		}
	}
	add(sigs[0].Intermediates)
	if cs := sigs[0].CounterSignature; cs != nil {
		add(cs.Intermediates)
	}
	return m
}

func TestDebianSignedEFI(t *testing.T) {
	files := aptExtract(t, []string{"grub-efi-amd64-signed", "shim-signed", "shim-helpers-amd64-signed"},
		"grubx64.efi.signed", "shimx64.efi.signed", "fbx64.efi.signed", "mmx64.efi.signed")
	shim, err := os.ReadFile(files["shimx64.efi.signed"])
	if err != nil {
		t.Fatal(err)
	}
	debianCA := findCertificate(shim, "Debian Secure Boot CA")
	if debianCA == nil {
		t.Fatal("no Debian Secure Boot CA certificate embedded in shim")
	}
	if len(debianCA.UnhandledCriticalExtensions) == 0 {
		t.Fatal("Debian Secure Boot CA: got no unhandled critical extension, want its critical Netscape certificate type")
	}
	// Through ParseRoots, as a --roots bundle would be read.
	debianRoots, err := ParseRoots(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: debianCA.Raw}))
	if err != nil {
		t.Fatal(err)
	}

	// UEFI firmware trusts Microsoft's UEFI CA 2011 itself (it is in db);
	// the timestamp chains to Microsoft's Time-Stamp PCA 2010. Both come
	// from the signature: the test checks chain building, EKUs, the
	// timestamp's time and Microsoft's token format, not who issued them.
	msCerts := signatureCerts(t, files["shimx64.efi.signed"])
	msRoots := x509.NewCertPool()
	for _, cn := range []string{"Microsoft Corporation UEFI CA 2011", "Microsoft Time-Stamp PCA 2010"} {
		c := msCerts[cn]
		if c == nil {
			t.Fatalf("shim's signature does not carry %q", cn)
		}
		msRoots.AddCert(c)
	}

	for _, tc := range []struct {
		file, subject, issuer string
		rootsName             string
		roots                 *x509.CertPool
		status                string
		timestamped           bool
	}{
		{"grubx64.efi.signed", "Debian Secure Boot Signer 2022 - grub2", "Debian Secure Boot CA", "no roots", nil, StatusUntrustedRoot, false},
		{"grubx64.efi.signed", "Debian Secure Boot Signer 2022 - grub2", "Debian Secure Boot CA", "Debian CA", debianRoots, StatusTrusted, false},
		{"fbx64.efi.signed", "Debian Secure Boot Signer 2022 - shim", "Debian Secure Boot CA", "Debian CA", debianRoots, StatusTrusted, false},
		{"mmx64.efi.signed", "Debian Secure Boot Signer 2022 - shim", "Debian Secure Boot CA", "Debian CA", debianRoots, StatusTrusted, false},
		{"shimx64.efi.signed", "Microsoft Windows UEFI Driver Publisher", "Microsoft Corporation UEFI CA 2011", "no roots", nil, StatusUntrustedRoot, true},
		{"shimx64.efi.signed", "Microsoft Windows UEFI Driver Publisher", "Microsoft Corporation UEFI CA 2011", "Microsoft UEFI CA", msRoots, StatusTrusted, true},
		{"shimx64.efi.signed", "Microsoft Windows UEFI Driver Publisher", "Microsoft Corporation UEFI CA 2011", "Debian CA", debianRoots, StatusUntrustedRoot, true},
	} {
		t.Run(tc.file+"/"+tc.rootsName, func(t *testing.T) {
			id, err := Analyze(context.Background(), files[tc.file], &Options{Roots: tc.roots})
			if err != nil {
				t.Fatal(err)
			}
			s := id.Signature
			if s.Status != tc.status || s.Subject != tc.subject || s.Issuer != tc.issuer || !s.DigestValid {
				t.Errorf("got status %q subject %q issuer %q digest valid %v (%s), want %q %q %q true",
					s.Status, s.Subject, s.Issuer, s.DigestValid, s.Error, tc.status, tc.subject, tc.issuer)
			}
			if tc.timestamped && (s.Timestamp.IsZero() || s.Timestamp.After(time.Now())) {
				t.Errorf("timestamp: got %v, want the signing time", s.Timestamp)
			}
			if id.Arch != "x64" || len(id.Warnings) > 0 {
				t.Errorf("got arch %q warnings %q, want x64 and none", id.Arch, id.Warnings)
			}
		})
	}

	t.Run("tampered grub", func(t *testing.T) {
		data, err := os.ReadFile(files["grubx64.efi.signed"])
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/3] ^= 0x40
		id, err := AnalyzeBytes(context.Background(), "grub", data, &Options{Roots: debianRoots})
		if err != nil {
			t.Fatal(err)
		}
		if id.Signature.Status != StatusBadDigest || id.Signature.Trusted {
			t.Errorf("got %q trusted=%v, want %q untrusted", id.Signature.Status, id.Signature.Trusted, StatusBadDigest)
		}
	})
}

func TestWinePEFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Wine (100 MB)")
	}
	files := aptExtract(t, []string{"libwine"},
		"x86_64-windows/kernel32.dll", "x86_64-windows/cmd.exe", "x86_64-windows/notepad.exe", "x86_64-windows/powershell.exe")
	id, err := Analyze(context.Background(), files["x86_64-windows/kernel32.dll"], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"original file name", id.OriginalFileName, "kernel32.dll"},
		{"company", id.Company, "Microsoft Corporation"},
		{"description", id.Description, "Wine kernel DLL"},
		{"product", id.Product, "Wine"},
		{"arch", id.Arch, "x64"},
		{"status", id.Signature.Status, StatusUnsigned},
	} {
		if c.got != c.want {
			t.Errorf("kernel32.dll %s: got %q, want %q", c.field, c.got, c.want)
		}
	}
	if !strings.HasPrefix(id.FileVersion, "10.0.") {
		t.Errorf("kernel32.dll file version: got %q, want Windows 10's 10.0.x", id.FileVersion)
	}

	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import pefile").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("python3-pefile not installed: imphash not compared")
	}
	for name, path := range files {
		out, err := exec.Command(python, "-c", "import pefile,sys; print(pefile.PE(sys.argv[1]).get_imphash())", path).Output()
		if err != nil {
			t.Fatalf("pefile %s: %v", name, err)
		}
		id, err := Analyze(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(string(out)); id.Imphash != want {
			t.Errorf("%s imphash: got %s, want %s (pefile)", name, id.Imphash, want)
		}
	}
}
