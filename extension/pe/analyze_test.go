package pe

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type wantIdentity struct {
	arch, original, company, imphash string
	status                           string
	present, digestValid, trusted    bool
	subject, issuer                  string
	timestamp                        time.Time
	timestampKind                    string
	nested                           int
}

const (
	testSigner   = "scsweep Test Signer"
	testIssuer   = "scsweep Test Code Signing CA"
	imphashAMD64 = "a96d8ea0a4eb7e8809e512f1a2b1bc6f" // pefile 2023.2.7 get_imphash()
	imphash386   = "535c03c4ee962db430f61845bebbea4d" // pefile 2023.2.7 get_imphash()
)

var (
	tsFixture = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tsExpired = time.Date(2020, 6, 1, 12, 0, 0, 0, time.UTC)
)

// fixtureCases is what every fixture under testdata/pe must be reported as.
var fixtureCases = []struct {
	file string
	want wantIdentity
}{
	{"unsigned-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusUnsigned}},
	{"unsigned-386.exe", wantIdentity{arch: "x86", original: "hello.exe", company: "scsweep fixtures", imphash: imphash386, status: StatusUnsigned}},
	{"signed-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: testSigner, issuer: testIssuer}},
	{"signed-386.exe", wantIdentity{arch: "x86", original: "hello.exe", company: "scsweep fixtures", imphash: imphash386, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: testSigner, issuer: testIssuer}},
	{"signed-ts-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: testSigner, issuer: testIssuer, timestamp: tsFixture}},
	{"expired-ts-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: "scsweep Expired Signer", issuer: testIssuer, timestamp: tsExpired}},
	{"expired-legacy-ts-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: "scsweep Expired Signer", issuer: testIssuer, timestamp: tsExpired, timestampKind: "legacy"}},
	{"expired-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusExpired,
		present: true, digestValid: true, subject: "scsweep Expired Signer", issuer: testIssuer}},
	{"tampered-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusBadDigest,
		present: true, subject: testSigner, issuer: testIssuer, timestamp: tsFixture}},
	{"nested-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: testSigner, issuer: testIssuer, timestamp: tsFixture, nested: 1}},
	{"untrusted-amd64.exe", wantIdentity{arch: "x64", original: "hello.exe", company: "scsweep fixtures", imphash: imphashAMD64, status: StatusUntrustedRoot,
		present: true, digestValid: true, subject: "Untrusted Test Signer", issuer: "Untrusted Test Root"}},
	{"notepad.exe", wantIdentity{arch: "x64", original: "PowerShell.EXE", company: "Microsoft Corporation", imphash: imphashAMD64, status: StatusTrusted,
		present: true, digestValid: true, trusted: true, subject: testSigner, issuer: testIssuer, timestamp: tsFixture}},
}

func checkIdentity(t *testing.T, id *Identity, want wantIdentity) {
	t.Helper()
	s := id.Signature
	for _, c := range []struct{ field, got, want string }{
		{"arch", id.Arch, want.arch},
		{"original file name", id.OriginalFileName, want.original},
		{"company", id.Company, want.company},
		{"imphash", id.Imphash, want.imphash},
		{"status", s.Status, want.status},
		{"subject", s.Subject, want.subject},
		{"issuer", s.Issuer, want.issuer},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q (signature error: %s)", c.field, c.got, c.want, s.Error)
		}
	}
	if s.Present != want.present || s.DigestValid != want.digestValid || s.Trusted != want.trusted {
		t.Errorf("present/digest valid/trusted: got %v/%v/%v, want %v/%v/%v (%s)",
			s.Present, s.DigestValid, s.Trusted, want.present, want.digestValid, want.trusted, s.Error)
	}
	if !s.Timestamp.Equal(want.timestamp) {
		t.Errorf("timestamp: got %v, want %v", s.Timestamp, want.timestamp)
	}
	wantKind := want.timestampKind
	if wantKind == "" && !want.timestamp.IsZero() {
		wantKind = "rfc3161"
	}
	if s.TimestampKind != wantKind {
		t.Errorf("timestamp kind: got %q, want %q", s.TimestampKind, wantKind)
	}
	if s.Nested != want.nested {
		t.Errorf("nested: got %d, want %d", s.Nested, want.nested)
	}
	if !id.IsPE {
		t.Errorf("is PE: got false, want true")
	}
	if len(id.SHA256) != 64 || len(id.SHA1) != 40 || len(id.MD5) != 32 {
		t.Errorf("hashes: got %q %q %q, want hex digests", id.MD5, id.SHA1, id.SHA256)
	}
	if len(id.Warnings) > 0 {
		t.Errorf("warnings: got %q, want none", id.Warnings)
	}
}

func TestFixturesInProcess(t *testing.T) {
	opts := fixtureOptions(t)
	for _, tc := range fixtureCases {
		t.Run(tc.file, func(t *testing.T) {
			id, err := Analyze(context.Background(), fixture(t, tc.file), opts)
			if err != nil {
				t.Fatalf("analyze: %v", err)
			}
			checkIdentity(t, id, tc.want)
		})
	}
}

func TestFixturesIsolated(t *testing.T) {
	iso, err := NewIsolated(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Close()
	for _, tc := range fixtureCases {
		t.Run(tc.file, func(t *testing.T) {
			id, err := iso.Analyze(context.Background(), fixture(t, tc.file))
			if err != nil {
				t.Fatalf("analyze: %v", err)
			}
			checkIdentity(t, id, tc.want)
		})
	}
	if got := iso.Starts(); got != 1 {
		t.Errorf("worker starts: got %d, want 1", got)
	}
}

func TestHashesMatchTheFile(t *testing.T) {
	path := fixture(t, "signed-amd64.exe")
	id, err := Analyze(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Skipf("sha256sum not available: %v", err)
	}
	if got, want := id.SHA256, strings.Fields(string(out))[0]; got != want {
		t.Errorf("sha256: got %s, want %s", got, want)
	}
	st, _ := os.Stat(path)
	if id.Size != st.Size() {
		t.Errorf("size: got %d, want %d", id.Size, st.Size())
	}
}

func TestNoRootsMeansUntrusted(t *testing.T) {
	id, err := Analyze(context.Background(), fixture(t, "signed-amd64.exe"), &Options{Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	if id.Signature.Status != StatusUntrustedRoot || id.Signature.Trusted {
		t.Errorf("status: got %s trusted=%v, want %s trusted=false", id.Signature.Status, id.Signature.Trusted, StatusUntrustedRoot)
	}
}

// TestImphashMatchesPefile checks the import hash against pefile itself
// when python3-pefile is installed. The constants above were computed with
// pefile 2023.2.7 (Debian bookworm's python3-pefile), calling
// pefile.PE(path).get_imphash() on each fixture.
func TestImphashMatchesPefile(t *testing.T) {
	files := []string{"unsigned-amd64.exe", "unsigned-386.exe", "notepad.exe"}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = fixture(t, f)
	}
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import pefile").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("python3 with pefile is not installed (apt-get install python3-pefile): only the recorded values are checked")
	}
	script := "import pefile,sys\nfor p in sys.argv[1:]: print(pefile.PE(p).get_imphash())"
	out, err := exec.Command(python, append([]string{"-c", script}, paths...)...).Output()
	if err != nil {
		t.Fatalf("pefile: %v", err)
	}
	want := strings.Fields(string(out))
	for i, p := range paths {
		id, err := Analyze(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id.Imphash != want[i] {
			t.Errorf("%s: got %s, want %s (pefile)", files[i], id.Imphash, want[i])
		}
	}
}

func TestNotPE(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("#!/bin/sh\necho hi\n")},
		{"MZ only", []byte("MZ")},
		{"truncated header", append([]byte("MZ"), make([]byte, 100)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := AnalyzeBytes(context.Background(), "x", tc.data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if id.IsPE || id.Signature.Status != StatusNotPE {
				t.Errorf("got IsPE=%v status=%q, want false %q", id.IsPE, id.Signature.Status, StatusNotPE)
			}
			if id.SHA256 == "" {
				t.Errorf("sha256: got empty, want the hash of the bytes")
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	id, err := Analyze(context.Background(), fixture(t, "unsigned-amd64.exe"), &Options{MaxSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if id.Signature.Status != StatusTooLarge || id.SHA256 != "" {
		t.Errorf("got status %q sha256 %q, want %q and no hash", id.Signature.Status, id.SHA256, StatusTooLarge)
	}
}
