package screenconnect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkExtensions10k scans an App_Extensions tree of 10,000 small files
// spread over 100 GUID extension folders, a few loose files among them:
// every file is stat'ed, classified and hashed.
func BenchmarkExtensions10k(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "ScreenConnect")
	writeFile(b, filepath.Join(dir, "ScreenConnect.Service.exe"), serverPE([4]uint16{23, 9, 8, 8811}, "23.9.8.8811"))
	ext := filepath.Join(dir, "App_Extensions")
	body := make([]byte, 2048)
	const folders, perFolder = 100, 100
	for i := 0; i < folders; i++ {
		g := filepath.Join(ext, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
		if err := os.MkdirAll(filepath.Join(g, "Scripts"), 0o755); err != nil {
			b.Fatal(err)
		}
		writeFile(b, filepath.Join(g, "Manifest.xml"), []byte("<ExtensionManifest/>"))
		for j := 1; j < perFolder; j++ {
			name := fmt.Sprintf("Scripts/f%03d.js", j)
			if j%10 == 0 {
				name = fmt.Sprintf("Service%03d.ashx", j)
			}
			writeFile(b, filepath.Join(g, filepath.FromSlash(name)), body)
		}
	}
	opts := Options{Roots: []string{dir}, OnlyRoots: true}
	ctx := context.Background()
	b.ResetTimer()
	var rows []map[string]string
	for i := 0; i < b.N; i++ {
		var err error
		rows, err = Extensions(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(rows) != folders*perFolder {
		b.Fatalf("got %d rows, want %d", len(rows), folders*perFolder)
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkParseUsers parses a user database of 200 users.
func BenchmarkParseUsers(b *testing.B) {
	data := []byte("<Users>")
	for i := 0; i < 200; i++ {
		data = fmt.Appendf(data, "<User><Name>u%d</Name><Email>u%d@example.com</Email><IsApproved>true</IsApproved><CreationDate>2023-01-01T00:00:00</CreationDate><LastLoginDate>0001-01-01T00:00:00</LastLoginDate><Roles><Role>Technician</Role></Roles></User>", i, i)
	}
	data = append(data, "</Users>"...)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := ParseUsers(data); err != nil {
			b.Fatal(err)
		}
	}
}
