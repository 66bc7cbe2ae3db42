package events

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"slices"
	"testing"
)

// Insert stores encodeEvent's bytes while readers and Row speak of the
// row map; the two must agree for every kind of value.
func TestEncodeEventMatchesRow(t *testing.T) {
	tr, fa := true, false
	tests := []struct {
		name string
		ev   *Event
	}{
		{"empty event", &Event{}},
		{"sample with ancestry and trusted signature", sample(2, 1_700_000_000)},
		{"untrusted signature", func() *Event { e := sample(3, 5); e.SignatureTrusted = &fa; return e }()},
		{"pid zero known and parent pid unknown", &Event{EID: "x", PID: 0, HasPID: true, Ingested: 7}},
		{"every text field set", &Event{
			EID: "e", Time: -1, Source: "s", EntityID: "g", Name: "n", Path: "p", Cmdline: "c\x00\n", Cwd: "w",
			Username: "u", UserSID: "S-1", IntegrityLevel: "High", ParentPID: 4, HasParentPID: true,
			ParentEntityID: "pg", ParentName: "pn", ParentPath: "pp", ParentCmdline: "pc",
			Ancestry:           []Ancestor{{PID: 4, Name: "<System>", Path: `C:\x`, Time: 3}, {PID: 1}},
			PEOriginalFileName: "o", PECompany: "co", PEDescription: "d", PEProduct: "pr", PEFileVersion: "1.0",
			PEImphash: "i", PEArch: "x64", MD5: "m", SHA1: "s1", SHA256: "s2", SignatureStatus: "trusted",
			SignatureSubject: "sub", SignatureIssuer: "iss", SignatureTrusted: &tr, OSType: "windows",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeEvent(nil, tt.ev)
			want := encodeRow(nil, tt.ev.Row())
			if !bytes.Equal(got, want) {
				t.Fatalf("encodeEvent: got %q, want %q", got, want)
			}
			row, err := decodeRow(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(row, tt.ev.Row()) {
				t.Fatalf("decoded: got %v, want %v", row, tt.ev.Row())
			}
		})
	}
}

// Row must carry exactly the table's columns: one the event forgets would
// be stored empty, one the schema lacks would never be read.
func TestRowHasEverySchemaColumn(t *testing.T) {
	var got []string
	for c := range (&Event{}).Row() {
		got = append(got, c)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(rowColumns))
	if !slices.Equal(got, want) {
		t.Fatalf("Row columns: got %v, want %v", got, want)
	}
}

// Both decoders read the same values, also from a row stored before the
// schema's last columns existed (those read as unknown).
func TestDecodeValuesMatchesDecodeRow(t *testing.T) {
	full := encodeEvent(nil, sample(4, 99))
	short := binary.AppendUvarint(nil, 2)
	for _, v := range []string{"eid-x", "12"} {
		short = binary.AppendUvarint(short, uint64(len(v)))
		short = append(short, v...)
	}
	for name, blob := range map[string][]byte{"full row": full, "row with two columns": short} {
		t.Run(name, func(t *testing.T) {
			row, err := decodeRow(blob)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := decodeValues(blob)
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != len(rowColumns) {
				t.Fatalf("got %d values, want %d", len(vals), len(rowColumns))
			}
			for i, c := range rowColumns {
				if vals[i] != row[c] {
					t.Fatalf("column %s: got %q, want %q", c, vals[i], row[c])
				}
			}
		})
	}
	if _, err := decodeValues(full[:len(full)-3]); err == nil {
		t.Fatal("truncated row: got no error, want one")
	}
}
