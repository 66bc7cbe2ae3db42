package source

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/Velocidex/ordereddict"

	"scsweep/extension/schema/peers"
)

// peerEVTX is a real single-chunk Sysmon .evtx file from the reference
// material: 4096 bytes of file header, then one 64 KiB chunk whose first
// record starts 512 bytes in.
func peerEVTX(tb testing.TB) []byte {
	tb.Helper()
	p := peers.Path(tb, "telemetry/sysmon_evtx_sigma/proc_creation_win_powershell_base64_invoke/6385697e-9f1b-40bd-8817-f4a91f40508e.evtx")
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) != evtxFileHeaderBytes+evtxChunkSize {
		tb.Fatalf("%s: got %d bytes, want one chunk", p, len(b))
	}
	return b
}

func TestEVTXDamage(t *testing.T) {
	good := peerEVTX(t)
	chunk := good[evtxFileHeaderBytes:]
	corrupt := func(at int, with byte, n int) []byte {
		c := append([]byte(nil), chunk...)
		for i := at; i < at+n; i++ {
			c[i] = with
		}
		return c
	}
	file := func(chunks ...[]byte) []byte {
		out := append([]byte(nil), good[:evtxFileHeaderBytes]...)
		for _, c := range chunks {
			out = append(out, c...)
		}
		return out
	}
	tests := []struct {
		name        string
		input       []byte
		wantEmitted int
		wantSkipped map[string]int
	}{
		{"intact", good, 1, nil},
		{"two intact chunks", file(chunk, chunk), 2, nil},
		{"cut inside the record", good[:evtxFileHeaderBytes+512+300], 0, map[string]int{reasonEVTXTruncated: 1}},
		{"cut after the record", good[:evtxFileHeaderBytes+20000], 1, nil},
		{"cut inside the chunk header", good[:evtxFileHeaderBytes+60], 0, map[string]int{reasonEVTXTruncated: 1}},
		{"record magic destroyed, between good chunks", file(chunk, corrupt(512, 0, 4), chunk), 2, map[string]int{reasonEVTXCorrupt: 1}},
		{"record body overwritten, between good chunks", file(chunk, corrupt(512+24, 0xff, 2000), chunk), 2, map[string]int{reasonEVTXCorrupt: 1}},
		{"chunk header magic destroyed", file(corrupt(0, 'X', 8), chunk), 1, map[string]int{"corrupt EVTX chunk header": 1}},
		{"chunk header claims too many records", file(func() []byte {
			c := append([]byte(nil), chunk...)
			c[16] = 0xff // LastEventRecNumber low byte... and more
			c[20] = 0x7f
			return c
		}(), chunk), 1, map[string]int{"corrupt EVTX chunk header": 1}},
		{"empty chunk slots at the end", file(chunk, make([]byte, evtxChunkSize)), 1, nil},
		// One byte in the template instance makes the parser read an
		// argument count it never checks and allocate until memory runs
		// out: the child parsing that chunk dies, the others import.
		{"chunk that exhausts the parser's memory, between good chunks", file(chunk, corrupt(570, 0x77, 1), chunk), 2, map[string]int{reasonEVTXCrash: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, sum := collect(t, bytes.NewReader(tc.input), "auto")
			if len(evs) != tc.wantEmitted {
				t.Errorf("emitted: got %d (%+v), want %d", len(evs), sum, tc.wantEmitted)
			}
			if (len(sum.Skipped) != 0 || len(tc.wantSkipped) != 0) && !mapsEqual(sum.Skipped, tc.wantSkipped) {
				t.Errorf("skipped: got %v, want %v", sum.Skipped, tc.wantSkipped)
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A stream that cannot seek is held in memory and reads the same.
func TestEVTXFromPipe(t *testing.T) {
	good := peerEVTX(t)
	evs, _ := collect(t, struct{ *bytes.Reader }{bytes.NewReader(good)}, "sysmon-evtx")
	fromFile, _ := importFile(t, filepath.Join(peers.Path(t, "telemetry/sysmon_evtx_sigma/proc_creation_win_powershell_base64_invoke"), "6385697e-9f1b-40bd-8817-f4a91f40508e.evtx"), "sysmon-evtx")
	if len(evs) != 1 || len(fromFile) != 1 || evs[0].EID != fromFile[0].EID {
		t.Fatalf("got %d events from a pipe and %d from the file, want the same one", len(evs), len(fromFile))
	}
}

// A nested BinXML structure has no text of its own, even though the
// library's dict type prints itself.
func TestEvtxTextOfNestedValues(t *testing.T) {
	d := ordereddict.NewDict().Set("a", "b")
	for _, v := range []any{d, []interface{}{"x"}} {
		if got := evtxText(v); got != "" {
			t.Errorf("evtxText(%T): got %q, want empty", v, got)
		}
	}
	if got := evtxText([]byte{0xab, 0x01}); got != "AB01" {
		t.Errorf("evtxText(bytes): got %q, want AB01", got)
	}
}
