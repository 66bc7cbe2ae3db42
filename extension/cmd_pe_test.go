package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func unpackPEFixture(t *testing.T, dir, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "pe", name+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, zr); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPECommand builds scsweep.ext and runs `scsweep.ext pe`, which
// analyzes in a worker: the binary re-executes itself as pe-worker.
func TestPECommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "scsweep.ext")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	files := []string{"notepad.exe", "tampered-amd64.exe", "unsigned-386.exe", "untrusted-amd64.exe"}
	args := []string{"pe", "--roots", filepath.Join("..", "testdata", "pe", "roots.pem")}
	for _, f := range files {
		args = append(args, unpackPEFixture(t, dir, f))
	}
	args = append(args, filepath.Join(dir, "missing.exe"))
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: got %v, want status 1 for the missing file\n%s", err, stderr.String())
	}
	var got []map[string]any
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != len(files)+1 {
		t.Fatalf("lines: got %d, want %d\n%s", len(got), len(files)+1, stdout.String())
	}
	want := []map[string]any{
		{"pe.original_file_name": "PowerShell.EXE", "pe.company": "Microsoft Corporation", "code_signature.status": "trusted",
			"code_signature.trusted": true, "code_signature.subject_name": "scsweep Test Signer", "pe.architecture": "x64"},
		{"code_signature.status": "errorBadDigest", "code_signature.trusted": false, "code_signature.valid": false},
		{"code_signature.status": "unsigned", "code_signature.exists": false, "pe.architecture": "x86"},
		{"code_signature.status": "errorUntrustedRoot", "code_signature.trusted": false, "code_signature.issuer_name": "Untrusted Test Root"},
		{"file.path": filepath.Join(dir, "missing.exe")},
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("line %d %s: got %v, want %v", i+1, k, got[i][k], v)
			}
		}
	}
	if _, ok := got[4]["error.message"]; !ok {
		t.Errorf("missing file: got %v, want an error.message", got[4])
	}
	if h, _ := got[0]["hash.sha256"].(string); len(h) != 64 {
		t.Errorf("hash.sha256: got %q, want a hex digest", h)
	}
}

func TestPECommandUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"pe"}, &stdout, &stderr); code != 2 {
		t.Errorf("no files: got exit %d, want 2", code)
	}
	if code := dispatch([]string{"pe", "--roots", "/nonexistent.pem", "x"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing roots: got exit %d, want 1", code)
	}
}
