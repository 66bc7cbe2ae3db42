package pe

import (
	"context"
	"debug/pe"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// craftEmptyVersionDirectory returns a copy of a fixture whose RT_VERSION
// resource directory lists no entries. saferwall/pe v1.6.5 indexes the first
// entry of that directory without checking, so this real file makes the
// parser panic.
func craftEmptyVersionDirectory(t *testing.T) string {
	t.Helper()
	path := fixture(t, "unsigned-amd64.exe")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rsrc := f.Section(".rsrc")
	if rsrc == nil {
		t.Fatal("fixture has no .rsrc section")
	}
	root := int(rsrc.Offset)
	named := int(binary.LittleEndian.Uint16(data[root+12:]))
	ids := int(binary.LittleEndian.Uint16(data[root+14:]))
	for i := 0; i < named+ids; i++ {
		e := root + 16 + 8*i
		if binary.LittleEndian.Uint32(data[e:]) != 16 { // RT_VERSION
			continue
		}
		sub := root + int(binary.LittleEndian.Uint32(data[e+4:])&0x7fffffff)
		binary.LittleEndian.PutUint16(data[sub+12:], 0)
		binary.LittleEndian.PutUint16(data[sub+14:], 0)
		out := filepath.Join(t.TempDir(), "crafted.exe")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatal("fixture has no RT_VERSION resource")
	return ""
}

func TestCraftedPECostsOnlyItsVersionInfo(t *testing.T) {
	path := craftEmptyVersionDirectory(t)
	check := func(t *testing.T, id *Identity) {
		t.Helper()
		if id.OriginalFileName != "" {
			t.Errorf("original file name: got %q, want none", id.OriginalFileName)
		}
		if id.Imphash != imphashAMD64 || id.Signature.Status != StatusUnsigned || id.SHA256 == "" {
			t.Errorf("got imphash %q status %q sha256 %q, want %s %s and a hash", id.Imphash, id.Signature.Status, id.SHA256, imphashAMD64, StatusUnsigned)
		}
		if len(id.Warnings) != 1 || !strings.Contains(id.Warnings[0], "version resource: parser panicked") {
			t.Errorf("warnings: got %q, want one saying the version parser panicked", id.Warnings)
		}
	}
	t.Run("in process", func(t *testing.T) {
		id, err := Analyze(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, id)
	})
	t.Run("isolated", func(t *testing.T) {
		iso, err := NewIsolated(testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer iso.Close()
		id, err := iso.Analyze(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		check(t, id)
	})
}

// TestWorkerFailureDoesNotReachTheCaller makes the worker die or hang on a
// file and checks that the caller gets an error for that file only, and that
// the next file is analyzed by a fresh worker.
func TestWorkerFailureDoesNotReachTheCaller(t *testing.T) {
	for _, tc := range []struct {
		marker  string
		timeout time.Duration
	}{
		{markerPanic, 20 * time.Second},
		{markerExit, 20 * time.Second},
		{markerHang, 2 * time.Second},
		{markerOOM, 20 * time.Second},
	} {
		t.Run(tc.marker, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Timeout = tc.timeout
			if tc.marker == markerOOM {
				if runtime.GOOS == "windows" {
					t.Skip("the address space limit needs a POSIX shell")
				}
				// The worker's own memory ceiling cannot stop a
				// runaway allocation; on Linux, an address space
				// limit on the worker makes it die quickly.
				cfg.Command = func() *exec.Cmd {
					return exec.Command("sh", "-c", `ulimit -v 2000000 && exec "$0"`, os.Args[0])
				}
			}
			iso, err := NewIsolated(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer iso.Close()
			good := fixture(t, "signed-amd64.exe")
			if _, err := iso.Analyze(context.Background(), good); err != nil {
				t.Fatalf("first file: %v", err)
			}
			bad := fixtureAs(t, "unsigned-amd64.exe", tc.marker+".exe")
			id, err := iso.Analyze(context.Background(), bad)
			if !errors.Is(err, ErrWorker) {
				t.Fatalf("bad file: got %v, %v; want an error wrapping ErrWorker", id, err)
			}
			id, err = iso.Analyze(context.Background(), good)
			if err != nil {
				t.Fatalf("file after the failure: %v", err)
			}
			if id.Signature.Status != StatusTrusted {
				t.Errorf("file after the failure: got status %q, want %q", id.Signature.Status, StatusTrusted)
			}
			if got := iso.Starts(); got != 2 {
				t.Errorf("worker starts: got %d, want 2", got)
			}
		})
	}
}

func TestCancelledCallKillsBusyWorker(t *testing.T) {
	iso, err := NewIsolated(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := iso.Analyze(ctx, fixtureAs(t, "unsigned-amd64.exe", markerHang+".exe"))
		done <- err
	}()
	// Cancel once the worker is busy with the hanging file.
	for iso.Starts() == 0 || len(iso.sem) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	id, err := iso.Analyze(context.Background(), fixture(t, "unsigned-386.exe"))
	if err != nil || id.Arch != "x86" {
		t.Fatalf("next file: got %v, %v; want an x86 identity", id, err)
	}
}

func TestIsolatedMissingFileIsNotExist(t *testing.T) {
	iso, err := NewIsolated(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Close()
	_, err = iso.Analyze(context.Background(), filepath.Join(t.TempDir(), "gone.exe"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want fs.ErrNotExist", err)
	}
	if iso.Starts() != 1 {
		t.Errorf("worker starts: got %d, want 1 (an ordinary error must not restart it)", iso.Starts())
	}
}
