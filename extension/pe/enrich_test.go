package pe

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"scsweep/extension/events"
)

func TestEnrichFillsOnlyWhatTheRecordLacks(t *testing.T) {
	path := fixture(t, "notepad.exe")
	e := NewEnricher(InProcess(fixtureOptions(t)), 16)
	file, err := Analyze(context.Background(), path, fixtureOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	for _, tc := range []struct {
		name string
		ev   events.Event
		want events.Event
		err  error
	}{
		{
			name: "empty record gets everything",
			ev:   events.Event{Path: path},
			want: events.Event{Path: path, PEOriginalFileName: "PowerShell.EXE", PECompany: "Microsoft Corporation",
				PEDescription: "Windows PowerShell", PEProduct: file.Product, PEFileVersion: "10.0.19041.1",
				PEImphash: imphashAMD64, PEArch: "x64", MD5: file.MD5, SHA1: file.SHA1, SHA256: file.SHA256,
				SignatureStatus: StatusTrusted, SignatureSubject: testSigner, SignatureIssuer: testIssuer},
		},
		{
			name: "sysmon fields win",
			ev:   events.Event{Path: path, PEOriginalFileName: "Cmd.Exe", SHA256: file.SHA256, SignatureStatus: "errorExpired", SignatureTrusted: &no},
			want: events.Event{Path: path, PEOriginalFileName: "Cmd.Exe", PECompany: "Microsoft Corporation",
				PEDescription: "Windows PowerShell", PEProduct: file.Product, PEFileVersion: "10.0.19041.1",
				PEImphash: imphashAMD64, PEArch: "x64", MD5: file.MD5, SHA1: file.SHA1, SHA256: file.SHA256,
				SignatureStatus: "errorExpired", SignatureTrusted: &no},
		},
		{
			name: "hash of another file leaves the record alone",
			ev:   events.Event{Path: path, SHA256: "00" + file.SHA256[2:]},
			want: events.Event{Path: path, SHA256: "00" + file.SHA256[2:]},
			err:  ErrFileChanged,
		},
		{
			name: "file not on this host",
			ev:   events.Event{Path: `C:\Windows\System32\cmd.exe`},
			want: events.Event{Path: `C:\Windows\System32\cmd.exe`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			err := e.Enrich(context.Background(), &ev)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error: got %v, want %v", err, tc.err)
			}
			got, want := ev.Row(), tc.want.Row()
			if tc.want.SignatureStatus == StatusTrusted {
				want["signature_trusted"] = "1"
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: got %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

func TestEnricherCacheAndInvalidation(t *testing.T) {
	path := fixture(t, "signed-amd64.exe")
	calls := 0
	opts := fixtureOptions(t)
	e := NewEnricher(AnalyzerFunc(func(ctx context.Context, p string) (*Identity, error) {
		calls++
		return Analyze(ctx, p, opts)
	}), 16)
	ctx := context.Background()
	first, err := e.Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Identify(ctx, path); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("analyses after two lookups of an unchanged file: got %d, want 1", calls)
	}
	if hits, misses := e.CacheStats(); hits != 1 || misses != 1 {
		t.Errorf("cache stats: got %d hits %d misses, want 1 and 1", hits, misses)
	}

	// Replace the file by another of the same size and time: only the
	// file id (a new inode) tells them apart.
	st, _ := os.Stat(path)
	other := fixtureAs(t, "expired-amd64.exe", "other.exe")
	if err := os.Chtimes(other, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	ost, _ := os.Stat(other)
	if ost.Size() != st.Size() {
		t.Fatalf("replacement size: got %d, want %d (the fixtures changed?)", ost.Size(), st.Size())
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	second, err := e.Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || second.SHA256 == first.SHA256 {
		t.Errorf("after replacing the file: got %d analyses and sha256 %s, want 2 and a new hash", calls, second.SHA256)
	}

	// Same inode, rewritten in place with a new time.
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	third, err := e.Identify(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || third.SHA256 == second.SHA256 {
		t.Errorf("after rewriting the file: got %d analyses and sha256 %s, want 3 and a new hash", calls, third.SHA256)
	}
}

func TestEnricherRemembersWorkerFailures(t *testing.T) {
	cfg := testConfig(t)
	iso, err := NewIsolated(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer iso.Close()
	e := NewEnricher(iso, 16)
	bad := fixtureAs(t, "unsigned-amd64.exe", markerPanic+".exe")
	ev := events.Event{Path: bad}
	for i := 0; i < 3; i++ {
		if err := e.Enrich(context.Background(), &ev); !errors.Is(err, ErrWorker) {
			t.Fatalf("attempt %d: got %v, want ErrWorker", i, err)
		}
	}
	if got := iso.Starts(); got != 1 {
		t.Errorf("worker starts after three events for one bad file: got %d, want 1", got)
	}
	if ev.SHA256 != "" {
		t.Errorf("sha256: got %q, want empty", ev.SHA256)
	}
}

func TestCacheIsBounded(t *testing.T) {
	opts := fixtureOptions(t)
	e := NewEnricher(InProcess(opts), 2)
	paths := []string{fixture(t, "unsigned-amd64.exe"), fixture(t, "unsigned-386.exe"), fixture(t, "signed-386.exe")}
	for _, p := range paths {
		if _, err := e.Identify(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.cache.Len(); got != 2 {
		t.Errorf("cache entries: got %d, want 2", got)
	}
	if e.cache.Contains(paths[0]) {
		t.Errorf("least recently used entry %s still cached", paths[0])
	}
}
