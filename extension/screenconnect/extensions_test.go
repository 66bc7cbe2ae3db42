package screenconnect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serverTree makes an install folder with the given files under it.
func serverTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ScreenConnect")
	writeFile(t, filepath.Join(dir, "ScreenConnect.Service.exe"), serverPE([4]uint16{23, 9, 8, 8811}, "23.9.8.8811"))
	for rel, body := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(rel)), []byte(body))
	}
	return dir
}

func scanExtensions(t *testing.T, opts Options) []map[string]string {
	t.Helper()
	rows, err := Extensions(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func rowByRel(rows []map[string]string, rel string) map[string]string {
	for _, r := range rows {
		if r["relative_path"] == rel {
			return r
		}
	}
	return nil
}

func TestExtensionsClassification(t *testing.T) {
	const g = "{2D558935-EBE4-4E1A-9D43-0B7C1E5A1F3B}"
	dir := serverTree(t, map[string]string{
		"app_extensions/" + g + "/MANIFEST.XML":     `<ExtensionManifest><Name>T</Name><Components><WebServiceReference SourceFile="handler.ashx"/></Components></ExtensionManifest>`,
		"app_extensions/" + g + "/Handler.ASHX":     "x",
		"app_extensions/" + g + "/view.cshtml":      "x",
		"app_extensions/NoManifest/readme.txt":      "x",
		"app_extensions/Default.aspx.bak":           "x",
		"app_extensions/Global.asax":                "x",
		"app_extensions/not-a-guid-1234/web.CONFIG": "x",
	})
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	cases := []struct {
		rel, guid, aspnet, manifest, suspicion string
	}{
		{g + "/MANIFEST.XML", "1", "0", "1", ""},
		{g + "/Handler.ASHX", "1", "1", "1", ""},
		{g + "/view.cshtml", "1", "1", "1", ReasonNotInManifest},
		{"NoManifest/readme.txt", "0", "0", "0", ReasonNoManifest},
		{"Default.aspx.bak", "0", "0", "0", ""},
		{"Global.asax", "0", "1", "0", ReasonLooseASPNet},
		{"not-a-guid-1234/web.CONFIG", "0", "1", "0", ReasonOutsideGUID + "; " + ReasonNoManifest},
	}
	if len(rows) != len(cases) {
		t.Errorf("got %d rows, want %d", len(rows), len(cases))
	}
	for _, c := range cases {
		r := rowByRel(rows, c.rel)
		if r == nil {
			t.Errorf("%s: got no row", c.rel)
			continue
		}
		got := []string{r["guid_scoped"], r["aspnet"], r["has_manifest"], r["suspicion"]}
		want := []string{c.guid, c.aspnet, c.manifest, c.suspicion}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got guid|aspnet|manifest|suspicion %q, want %q", c.rel, got, want)
		}
	}
}

func TestExtensionsBounds(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 10; i++ {
		files[fmt.Sprintf("App_Extensions/f%02d.txt", i)] = "x"
	}
	files["App_Extensions/"+strings.Repeat("d/", 6)+"deep.txt"] = "x"
	files["App_Extensions/big.bin"] = strings.Repeat("b", 100)
	dir := serverTree(t, files)

	cases := []struct {
		name      string
		opts      Options
		wantError string
		wantFiles int // file rows read despite the bound
	}{
		{"file count", Options{MaxFiles: 3}, "walk stopped: more than 3 files", 3},
		// The deep subtree is skipped, the 11 files beside it are still read.
		{"depth", Options{MaxDepth: 3}, "folder depth over 3, not entered", 11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Roots, c.opts.OnlyRoots = []string{dir}, true
			rows := scanExtensions(t, c.opts)
			var files, incomplete int
			for _, r := range rows {
				switch r["kind"] {
				case "file":
					files++
				case "incomplete":
					incomplete++
					if r["suspicion"] != ReasonCutShort || !strings.Contains(r["error"], c.wantError) {
						t.Errorf("incomplete row: got suspicion=%q error=%q, want %q and %q", r["suspicion"], r["error"], ReasonCutShort, c.wantError)
					}
				}
			}
			if files != c.wantFiles || incomplete != 1 {
				t.Errorf("got %d file rows and %d incomplete rows, want %d and 1", files, incomplete, c.wantFiles)
			}
		})
	}

	t.Run("hash size cap", func(t *testing.T) {
		rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true, MaxHashSize: 10})
		big, small := rowByRel(rows, "big.bin"), rowByRel(rows, "f00.txt")
		if big["sha256"] != "" || big["size"] != "100" || small["sha256"] == "" {
			t.Errorf("got big sha256=%q size=%q, small sha256=%q; want no hash above the cap, a hash below", big["sha256"], big["size"], small["sha256"])
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rows, err := Extensions(ctx, Options{Roots: []string{dir}, OnlyRoots: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0]["kind"] != "incomplete" || !strings.Contains(rows[0]["error"], "time limit") {
			t.Errorf("got %v, want a single incomplete row naming the time limit", rows)
		}
	})
}

func TestExtensionsLinksAreReportedNotFollowed(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.aspx"), []byte("x"))
	dir := serverTree(t, map[string]string{"App_Extensions/2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/Manifest.xml": "<m/>"})
	ext := filepath.Join(dir, "App_Extensions")
	if err := os.Symlink(outside, filepath.Join(ext, "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b", "link")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if err := os.Symlink("Manifest.xml", filepath.Join(ext, "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b", "inside")); err != nil {
		t.Fatal(err)
	}
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	for _, r := range rows {
		if strings.Contains(r["relative_path"], "secret") {
			t.Errorf("walk followed a link out of App_Extensions: %v", r)
		}
	}
	cases := []struct{ rel, suspicion string }{
		{"2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/link", ReasonLinkOutside},
		{"2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/inside", ""},
	}
	for _, c := range cases {
		r := rowByRel(rows, c.rel)
		if r == nil || r["kind"] != "symlink" || r["suspicion"] != c.suspicion || r["link_target"] == "" {
			t.Errorf("%s: got %v, want a symlink row with suspicion %q and its target", c.rel, r, c.suspicion)
		}
	}
}

func TestExtensionsUnreadableZip(t *testing.T) {
	dir := serverTree(t, map[string]string{
		"App_Extensions/2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/Manifest.xml": "<m/>",
		"App_Extensions/2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/broken.ZIP":   "PK not really",
	})
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	r := rowByRel(rows, "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/broken.ZIP")
	if r == nil || !strings.HasPrefix(r["error"], "zip:") || r["sha256"] == "" {
		t.Errorf("got %v, want the archive's row with a zip error and its hash", r)
	}
}

func TestExtensionsZipEntryBound(t *testing.T) {
	dir := serverTree(t, map[string]string{"App_Extensions/2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/Manifest.xml": "<m/>"})
	writeFile(t, filepath.Join(dir, "App_Extensions", "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b", "update.zip"), maliciousZip())
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true, MaxZipEntries: 2})
	r := rowByRel(rows, "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b/update.zip")
	if r == nil || !strings.Contains(r["error"], "only the first 2 of 3 entries") || r["suspicion"] != "" {
		t.Errorf("got %v, want the archive row saying only 2 of 3 entries were read (the climbing third unseen)", r)
	}
}

func TestExtensionsFolderThatIsALink(t *testing.T) {
	elsewhere := t.TempDir()
	writeFile(t, filepath.Join(elsewhere, "shell.aspx"), []byte("x"))
	dir := serverTree(t, nil)
	if err := os.Symlink(elsewhere, filepath.Join(dir, "App_Extensions")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	if len(rows) != 1 || rows[0]["kind"] != "symlink" || !strings.Contains(rows[0]["suspicion"], "App_Extensions is not a plain folder") {
		t.Errorf("got %v, want one symlink row saying App_Extensions is not a plain folder", rows)
	}
}

func TestExtensionsBrokenManifest(t *testing.T) {
	const g = "2d558935-ebe4-4e1a-9d43-0b7c1e5a1f3b"
	dir := serverTree(t, map[string]string{
		"App_Extensions/" + g + "/Manifest.xml": `<!DOCTYPE x [<!ENTITY a "b">]><ExtensionManifest/>`,
		"App_Extensions/" + g + "/Service.ashx": "x",
	})
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true})
	m, h := rowByRel(rows, g+"/Manifest.xml"), rowByRel(rows, g+"/Service.ashx")
	if m == nil || !strings.Contains(m["error"], "document type declarations are not allowed") {
		t.Errorf("manifest row: got %v, want its parse error", m)
	}
	// An unreadable manifest names nothing, and says nothing either: the
	// handler is not flagged on the manifest's word.
	if h == nil || h["has_manifest"] != "1" || h["suspicion"] != "" || h["error"] != "" {
		t.Errorf("handler row: got %v, want has_manifest=1 and no suspicion or error", h)
	}
}

func TestExtensionsWideFolder(t *testing.T) {
	// Empty folders count as entries, not files: the walk reads a bounded
	// listing and says the rest of the folder was not read.
	dir := serverTree(t, map[string]string{"App_Extensions/a.txt": "x"})
	for i := 0; i < 6; i++ {
		if err := os.MkdirAll(filepath.Join(dir, "App_Extensions", fmt.Sprintf("d%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rows := scanExtensions(t, Options{Roots: []string{dir}, OnlyRoots: true, MaxFiles: 4})
	last := rows[len(rows)-1]
	if last["kind"] != "incomplete" || last["error"] != "folder has more than 4 entries, the rest not read" {
		t.Errorf("last row: got %v, want an incomplete row saying the folder has more entries", last)
	}
}
