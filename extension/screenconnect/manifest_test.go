package screenconnect

import (
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	cases := []struct {
		name, input string
		want        string // name|version|author|files
		wantErr     string
	}{
		{"typical", `<?xml version="1.0" encoding="utf-8"?><ExtensionManifest><Version>1.4</Version><Name>Notes</Name><Author>IT</Author>
			<Components><WebServiceReference SourceFile="Service.ashx"/><ClientScriptInitializer SourceFile="Scripts\Init.js"/></Components></ExtensionManifest>`,
			"Notes|1.4|IT|Service.ashx+Scripts\\Init.js", ""},
		{"odd casing", `<extensionmanifest><NAME>n</NAME><components><x sourcefile="a.aspx"/></components></extensionmanifest>`, "n|||a.aspx", ""},
		{"utf-8 mark", "\xef\xbb\xbf<ExtensionManifest><Name>b</Name></ExtensionManifest>", "b|||", ""},
		{"doctype", `<!DOCTYPE ExtensionManifest><ExtensionManifest/>`, "", "document type declarations are not allowed"},
		{"wrong root", `<Users/>`, "", "unexpected root element <Users>"},
		{"empty", ``, "", "no root element"},
		{"truncated", `<ExtensionManifest><Name>x`, "", "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(c.input))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			got := strings.Join([]string{m.Name, m.Version, m.Author, strings.Join(m.SourceFiles, "+")}, "|")
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestManifestNames(t *testing.T) {
	m := Manifest{SourceFiles: []string{"Service.ashx", `Views\Page.aspx`, "./x.ascx"}}
	cases := []struct {
		rel  string
		want bool
	}{
		{"service.ASHX", true},
		{"Views/page.aspx", true},
		{"x.ascx", true},
		{"shell.aspx", false},
		{"Views/Service.ashx", false},
	}
	for _, c := range cases {
		if got := m.Names(c.rel); got != c.want {
			t.Errorf("Names(%q): got %v, want %v", c.rel, got, c.want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`<ExtensionManifest><Name>n</Name><Components><A SourceFile="a.ashx"/></Components></ExtensionManifest>`))
	f.Add([]byte(`<!DOCTYPE a><ExtensionManifest/>`))
	f.Add([]byte("\xff\xfe<\x00E\x00/\x00>\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err == nil && len(m.SourceFiles) > 10000 {
			t.Fatalf("got %d source files, want at most 10000", len(m.SourceFiles))
		}
		for _, s := range m.SourceFiles {
			if strings.TrimSpace(s) != s {
				t.Fatalf("source file %q not trimmed", s)
			}
		}
	})
}
