package screenconnect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultIdentifyReadsVersionResource(t *testing.T) {
	data := buildPE([4]uint16{23, 9, 7, 8804}, [][2]string{
		{"CompanyName", "ConnectWise, LLC"},
		{"FileDescription", "ScreenConnect Service (scsweep test fixture)"},
		{"FileVersion", "23.9.7.8804"},
		{"OriginalFilename", "ScreenConnect.Service.exe"},
		{"ProductName", "ScreenConnect"},
		{"ProductVersion", "23.9.7.8804"},
	})
	p := filepath.Join(t.TempDir(), "ScreenConnect.Service.exe")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := DefaultIdentify(context.Background(), p)
	if err != nil {
		t.Fatalf("DefaultIdentify: %v", err)
	}
	sum := sha256.Sum256(data)
	want := Identity{
		FileVersion: "23.9.7.8804", ProductVersion: "23.9.7.8804",
		OriginalFileName: "ScreenConnect.Service.exe", CompanyName: "ConnectWise, LLC",
		ProductName: "ScreenConnect", SHA256: hex.EncodeToString(sum[:]), SignatureStatus: "unsigned",
	}
	if id != want {
		t.Errorf("got %+v, want %+v", id, want)
	}
}

func TestDefaultIdentifyRejectsNonPE(t *testing.T) {
	cases := map[string][]byte{
		"empty":     {},
		"text":      []byte("<%@ WebHandler Language=\"C#\" Class=\"Handler\" %>"),
		"truncated": buildPE([4]uint16{1, 2, 3, 4}, nil)[:0x100],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.exe")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := DefaultIdentify(context.Background(), p); err == nil {
				t.Errorf("got no error, want one for %s input", name)
			}
		})
	}
}
