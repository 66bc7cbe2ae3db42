package screenconnect

import (
	"path"
	"strings"
	"testing"
)

func TestClimbsOut(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"Manifest.xml", false},
		{"Scripts/init.js", false},
		{"a/../b.aspx", false},
		{"./x.ashx", false},
		{"a/b/../../c", false},
		{"../shell.aspx", true},
		{`..\..\payload.aspx`, true},
		{`a\..\..\x`, true},
		{"a/../../x", true},
		{"/etc/passwd", true},
		{`\Windows\Temp\x.aspx`, true},
		{`C:\inetpub\wwwroot\x.aspx`, true},
		{"c:x.aspx", true},
		{`\\server\share\x`, true},
		{".../x.aspx", true},  // Windows reads "..." as ".."
		{"../ /x.aspx", true}, // trailing space dropped too
		{".. /x", true},
		{"...x/y", false},
		{"", false},
		{"..", true},
	}
	for _, c := range cases {
		if got := ClimbsOut(c.name); got != c.want {
			t.Errorf("ClimbsOut(%q): got %v, want %v", c.name, got, c.want)
		}
	}
}

// FuzzClimbsOut checks ClimbsOut against path.Clean: an entry that Clean
// puts outside the folder must be caught, and one ClimbsOut lets through
// must stay inside once cleaned.
func FuzzClimbsOut(f *testing.F) {
	for _, s := range []string{"a/b", "../x", `..\x`, "/x", "C:x", "a/../../b", ".../x", "a/./b/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		cleaned := path.Clean("/root/" + strings.ReplaceAll(name, `\`, "/"))
		escapes := cleaned != "/root" && !strings.HasPrefix(cleaned, "/root/")
		got := ClimbsOut(name)
		if escapes && !got {
			t.Fatalf("ClimbsOut(%q) = false, but it cleans to %q", name, cleaned)
		}
	})
}
