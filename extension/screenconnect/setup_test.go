package screenconnect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetupFiles(t *testing.T) {
	temp := filepath.Join(t.TempDir(), "ScreenConnect")
	writeFile(t, filepath.Join(temp, "23.9.7.8804", "a.xml"), []byte(`<Users><User><Name>x</Name><Roles><Role>Administrator</Role></Roles></User><User><Name>y</Name></User></Users>`))
	writeFile(t, filepath.Join(temp, "23.9.7.8804", "b.XML"), []byte(`<Users><User><Name>z</Name></User><User>`))
	writeFile(t, filepath.Join(temp, "23.9.7.8804", "setup.log"), []byte("log"))
	writeFile(t, filepath.Join(temp, "stray.txt"), []byte("s"))
	if err := os.Symlink(t.TempDir(), filepath.Join(temp, "23.9.7.8804", "link")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	rows, err := SetupFiles(context.Background(), Options{OnlyRoots: true, TempDirs: []string{temp}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[filepath.Base(r["path"])] = strings.Join([]string{r["version"], r["users"], r["admins"], boolString(r["sha256"] != ""), r["error"]}, "|")
	}
	want := map[string]string{
		"a.xml":     "23.9.7.8804|x,y|x|1|",
		"b.XML":     "23.9.7.8804|z||1|user database: XML syntax error on line 1: unexpected EOF",
		"setup.log": "23.9.7.8804|||1|",
		"link":      "23.9.7.8804|||0|not a regular file, not followed: symbolic link",
		"stray.txt": "|||1|",
	}
	if len(got) != len(want) {
		t.Errorf("got %d rows %v, want %d", len(got), got, len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}

func TestSetupFilesBounded(t *testing.T) {
	temp := filepath.Join(t.TempDir(), "ScreenConnect")
	for i := 0; i < 5; i++ {
		writeFile(t, filepath.Join(temp, "23.9.7", fmt.Sprintf("f%d.txt", i)), []byte("x"))
	}
	rows, err := SetupFiles(context.Background(), Options{OnlyRoots: true, TempDirs: []string{temp}, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !strings.Contains(rows[2]["error"], "walk stopped: more than 2 files") {
		t.Errorf("got %v, want two file rows and one saying the walk stopped", rows)
	}
}
