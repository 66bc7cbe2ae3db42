package screenconnect

import (
	"archive/zip"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fixtures")

// fixtureRoot is the top-level testdata folder holding the ScreenConnect trees.
var fixtureRoot = filepath.Join("..", "..", "testdata", "screenconnect")

const (
	x86Install = "Program Files (x86)/ScreenConnect"
	clientDir  = "Program Files (x86)/ScreenConnect Client (1a2b3c4d5e6f7a8b)"
)

func serverPE(v [4]uint16, version string) []byte {
	return buildPE(v, [][2]string{
		{"CompanyName", "ConnectWise, LLC"},
		{"FileDescription", "ScreenConnect Service (scsweep test fixture)"},
		{"FileVersion", version},
		{"InternalName", "ScreenConnect.Service"},
		{"OriginalFilename", "ScreenConnect.Service.exe"},
		{"ProductName", "ScreenConnect"},
		{"ProductVersion", version},
	})
}

func clientPE(name string) []byte {
	return buildPE([4]uint16{23, 9, 8, 8811}, [][2]string{
		{"CompanyName", "ConnectWise, LLC"},
		{"FileDescription", "ScreenConnect Client (scsweep test fixture)"},
		{"FileVersion", "23.9.8.8811"},
		{"OriginalFilename", name},
		{"ProductName", "ScreenConnect"},
		{"ProductVersion", "23.9.8.8811"},
	})
}

// maliciousZip is an extension archive whose third entry climbs out of the
// extension folder, the shape CVE-2024-1708 used to plant a web shell.
func maliciousZip() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	mod := time.Date(2024, 2, 21, 3, 20, 0, 0, time.UTC)
	for _, e := range []struct{ name, body string }{
		{"Manifest.xml", "<ExtensionManifest><Name>Update Helper</Name></ExtensionManifest>\n"},
		{"Service.ashx", "<%@ WebHandler Language=\"C#\" Class=\"S\" %>\n"},
		{`..\..\payload.aspx`, "<%@ Page Language=\"C#\" %>\n<%-- fixture: inert --%>\n"},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mod})
		if err != nil {
			panic(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// generatedFixtures are the binary files of the trees, made by code so
// their content is reviewable.
func generatedFixtures() map[string][]byte {
	return map[string][]byte{
		"clean-23.9.8/" + x86Install + "/ScreenConnect.Service.exe":                                       serverPE([4]uint16{23, 9, 8, 8811}, "23.9.8.8811"),
		"cve-2024-1709/" + x86Install + "/ScreenConnect.Service.exe":                                      serverPE([4]uint16{23, 9, 7, 8804}, "23.9.7.8804"),
		"cve-2024-1708/" + x86Install + "/ScreenConnect.Service.exe":                                      serverPE([4]uint16{23, 9, 7, 8804}, "23.9.7.8804"),
		"cve-2024-1708/" + x86Install + "/App_Extensions/7f3e9a10-5b2c-4d8e-9f01-a2b3c4d5e6f7/update.zip": maliciousZip(),
		"client-only/" + clientDir + "/ScreenConnect.ClientService.exe":                                   clientPE("ScreenConnect.ClientService.exe"),
		"client-only/" + clientDir + "/ScreenConnect.WindowsClient.exe":                                   clientPE("ScreenConnect.WindowsClient.exe"),
	}
}

// TestFixturesMatchGenerators keeps the committed binaries equal to what
// the generators make; -update rewrites them.
func TestFixturesMatchGenerators(t *testing.T) {
	for rel, want := range generatedFixtures() {
		p := filepath.Join(fixtureRoot, filepath.FromSlash(rel))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("fixture %s: %v (run with -update)", rel, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("fixture %s: got %d bytes differing from the generator's %d (run with -update)", rel, len(got), len(want))
		}
	}
}
