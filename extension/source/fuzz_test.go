package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"scsweep/extension/events"
	"scsweep/extension/schema/peers"
)

// fuzzRead imports data and checks what must hold for any input: no panic,
// every record accounted for, every event identified, bounded and valid text.
func fuzzRead(t *testing.T, data []byte, format string) {
	var evs []*events.Event
	sum, err := Read(context.Background(), bytes.NewReader(data), "fuzz", format, func(ev *events.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return // input rejected as a whole, with an error: fine
	}
	if sum.Emitted != len(evs) {
		t.Fatalf("emitted: summary %d, got %d events", sum.Emitted, len(evs))
	}
	if sum.Records != sum.Emitted+total(sum.Skipped) {
		t.Fatalf("records %d != emitted %d + skipped %v", sum.Records, sum.Emitted, sum.Skipped)
	}
	for _, ev := range evs {
		if ev.EID == "" || len(ev.EID) != 32 {
			t.Fatalf("event without a proper eid: %q", ev.EID)
		}
		for col, v := range ev.Row() {
			if col == "ancestry" {
				continue
			}
			if len(v) > MaxFieldBytes {
				t.Fatalf("column %s: %d bytes, over %d", col, len(v), MaxFieldBytes)
			}
			if !utf8.ValidString(v) {
				t.Fatalf("column %s: invalid UTF-8 %q", col, v)
			}
		}
	}
}

// addFixtures seeds a fuzz target with our fixtures of one format folder.
func addFixtures(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, dir, "*"))
	for _, p := range files {
		if filepath.Ext(p) == ".golden" {
			continue
		}
		// Large seeds make the fuzzer spend its time minimizing them.
		if b, err := os.ReadFile(p); err == nil && len(b) < 4<<10 {
			f.Add(b)
		}
	}
}

func FuzzSysmonXML(f *testing.F) {
	addFixtures(f, "sysmon-xml")
	f.Add([]byte(eventXML(1, 1, startData(100))))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "sysmon-xml") })
}

func FuzzECS(f *testing.F) {
	addFixtures(f, "ecs")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "ecs") })
}

func FuzzAuto(f *testing.F) {
	addFixtures(f, "sysmon-xml")
	addFixtures(f, "ecs")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "auto") })
}

// FuzzEVTX mutates .evtx files. Its own corpus is small hand-made headers;
// the real Sysmon .evtx files of the reference material, when present, are
// added at run time (they are not ours to keep in the corpus).
func FuzzEVTX(f *testing.F) {
	if d := peers.Dir(); d != "" {
		files, _ := filepath.Glob(filepath.Join(d, "telemetry", "sysmon_evtx_sigma", "*", "*.evtx"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, "sysmon-evtx") })
}

func FuzzCrowdStrikeFDR(f *testing.F) {
	addFixtures(f, kindFDR)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, kindFDR) })
}

func FuzzM365Defender(f *testing.F) {
	addFixtures(f, kindM365)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, kindM365) })
}

func FuzzSentinelOne(f *testing.F) {
	addFixtures(f, kindS1)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, data, kindS1) })
}
