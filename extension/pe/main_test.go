package pe

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Marker file names that make the test worker misbehave the ways a parser
// bug or a hostile file could: panic outside any recovery, hang, exit, or
// allocate without bound.
const (
	markerPanic = "worker-panic"
	markerHang  = "worker-hang"
	markerExit  = "worker-exit"
	markerOOM   = "worker-oom"
)

// TestMain doubles as the worker: go-plugin starts the test binary again
// with the handshake cookie set, and then it serves instead of testing.
func TestMain(m *testing.M) {
	if os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue {
		workerHook = misbehave
		ServeWorker()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func misbehave(path string) {
	switch base := filepath.Base(path); {
	case strings.Contains(base, markerPanic):
		// net/rpc runs this on its own goroutine with no recover: the
		// worker process dies.
		panic("test: parser bug on " + base)
	case strings.Contains(base, markerHang):
		for {
			time.Sleep(time.Hour)
		}
	case strings.Contains(base, markerExit):
		os.Exit(3)
	case strings.Contains(base, markerOOM):
		var hoard [][]byte
		for {
			b := make([]byte, 64<<20)
			for i := range b {
				b[i] = 1
			}
			hoard = append(hoard, b)
			if len(hoard) > 64 { // 4 GiB: stop before hurting the machine
				os.Exit(4)
			}
		}
	}
}

// testConfig runs the worker from the test binary with the fixtures' roots
// and a fixed verification time inside every fixture's validity.
func testConfig(t testing.TB) Config {
	if t != nil {
		t.Helper()
	}
	return Config{
		RootsFile: filepath.Join("..", "..", "testdata", "pe", "roots.pem"),
		VerifyAt:  fixtureNow,
		Timeout:   20 * time.Second,
		Command:   func() *exec.Cmd { return exec.Command(os.Args[0]) },
	}
}

var fixtureNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func fixtureDir(t testing.TB) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "pe")
}

func fixtureRoots(t testing.TB) string {
	t.Helper()
	return filepath.Join(fixtureDir(t), "roots.pem")
}

// fixture unpacks testdata/pe/NAME.gz into a temporary directory and returns
// the path of the executable, named NAME.
func fixture(t testing.TB, name string) string {
	t.Helper()
	return fixtureAs(t, name, name)
}

func fixtureAs(t testing.TB, name, as string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir(t), name+".gz"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	out := filepath.Join(t.TempDir(), as)
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, zr); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func fixtureOptions(t testing.TB) *Options {
	t.Helper()
	pool, err := LoadRoots(fixtureRoots(t))
	if err != nil {
		t.Fatal(err)
	}
	return &Options{Roots: pool, Now: fixtureNow}
}
