package main

import (
	"context"
	"io"
	"log"
	"path/filepath"
	"runtime"
	"testing"

	"scsweep/extension/events"
	"scsweep/extension/live"
)

// Outside Windows, serve's live collection starts, does nothing and says
// why in scsweep_status; stopping it returns.
func TestStartLiveOutsideWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("live collection runs here")
	}
	store, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t.Cleanup(func() { collector = nil })
	if got := collectorStatus(); got != nil {
		t.Fatalf("status before serve: got %v, want none", got)
	}
	stop := startLive(context.Background(), store, nil, log.New(io.Discard, "", 0))
	stop()
	_, _, why := live.Platform()
	st := collectorStatus()
	if len(st) != 3 {
		t.Fatalf("status: got %d sources, want 3", len(st))
	}
	for _, s := range st {
		if s.Active || s.Reason != why {
			t.Errorf("%s: got active %v reason %q, want inactive, %q", s.Source, s.Active, s.Reason, why)
		}
	}
}
