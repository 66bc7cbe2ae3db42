package live

import (
	"testing"
	"unicode/utf8"
)

// FuzzKernelRecord feeds arbitrary ProcessStart user data of every
// version: a record is read or refused with an error, never a panic, and
// what is read is valid text with an eid.
func FuzzKernelRecord(f *testing.F) {
	const create = filetimeUnixEpoch + 1708769731*10_000_000
	for _, v := range []uint8{0, 1, 2, 3} {
		f.Add(v, kernelData(v, 6120, 2816, create, systemLabel, `\Device\HarddiskVolume3\Windows\System32\cmd.exe`))
	}
	drives := map[string]string{`\Device\HarddiskVolume3`: "C:"}
	f.Fuzz(func(t *testing.T, version uint8, data []byte) {
		ev, err := kernelEvent(KernelRecord{Version: version, Data: data}, drives)
		if err != nil {
			return
		}
		if len(ev.EID) != 32 {
			t.Fatalf("eid: got %q, want 32 hex digits", ev.EID)
		}
		for col, v := range ev.Row() {
			if !utf8.ValidString(v) {
				t.Fatalf("column %s: invalid UTF-8 %q", col, v)
			}
		}
	})
}
