package pe

import (
	"context"
	"os"
	"testing"
)

// FuzzAnalyzeBytes feeds arbitrary bytes through the whole in-process
// analysis. Parser panics are contained per stage (they show as warnings),
// so what the fuzzer hunts here is what containment cannot catch: a panic
// outside the guards, a fatal error, or a hang. The seed corpus under
// testdata/fuzz holds small headers and a shrunken fixture.
func FuzzAnalyzeBytes(f *testing.F) {
	if os.Getenv("SCSWEEP_FUZZ_FIXTURES") != "" {
		// Whole fixtures make the fuzzer slow (1 MB each): opt in.
		for _, name := range []string{"signed-ts-amd64.exe", "notepad.exe", "nested-amd64.exe"} {
			data, err := os.ReadFile(fixture(f, name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	opts := fixtureOptions(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := AnalyzeBytes(context.Background(), "fuzz.exe", data, opts)
		if err != nil {
			t.Fatalf("analyze: %v", err)
		}
		if len(id.SHA256) != 64 {
			t.Fatalf("sha256: got %q, want a hex digest", id.SHA256)
		}
		if id.Signature.Status == "" {
			t.Fatalf("status: got empty, want one")
		}
		if id.Signature.Trusted != (id.Signature.Status == StatusTrusted) {
			t.Fatalf("trusted %v with status %q", id.Signature.Trusted, id.Signature.Status)
		}
		if id.Signature.Trusted && !id.Signature.DigestValid {
			t.Fatalf("trusted with an invalid digest")
		}
	})
}
