package screenconnect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Manifest is what the scanner reads of an extension's Manifest.xml.
type Manifest struct {
	Name    string
	Version string
	Author  string
	// SourceFiles are the files the manifest's components name
	// (SourceFile attributes), as written.
	SourceFiles []string
}

// Names reports whether the manifest names a file, by its path under the
// extension folder, ignoring case and separators as Windows would.
func (m Manifest) Names(rel string) bool {
	norm := func(s string) string {
		return strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(s, `\`, "/"), "./"))
	}
	r := norm(rel)
	for _, f := range m.SourceFiles {
		if norm(f) == r {
			return true
		}
	}
	return false
}

// ParseManifest parses an extension manifest (<ExtensionManifest> with Name,
// Version, Author and Components naming their SourceFile). Like ParseUsers it
// refuses DTDs and deep nesting and accepts any letter case.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	data, err := toUTF8(data)
	if err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	depth := 0
	rootSeen := false
	field := ""
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("manifest: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if len(t) >= 7 && strings.EqualFold(string(t[:7]), "DOCTYPE") {
				return m, fmt.Errorf("manifest: %w", ErrDTD)
			}
		case xml.StartElement:
			depth++
			if depth > maxXMLDepth {
				return m, fmt.Errorf("manifest: elements nested deeper than %d", maxXMLDepth)
			}
			name := strings.ToLower(t.Name.Local)
			rootSeen = true
			if depth == 1 && name != "extensionmanifest" {
				return m, fmt.Errorf("manifest: unexpected root element <%s>", t.Name.Local)
			}
			field = ""
			if depth == 2 {
				field = name
				text.Reset()
			}
			for _, a := range t.Attr {
				if strings.EqualFold(a.Name.Local, "SourceFile") && len(m.SourceFiles) < 10000 {
					m.SourceFiles = append(m.SourceFiles, strings.TrimSpace(a.Value))
				}
			}
		case xml.CharData:
			if depth == 2 && field != "" && text.Len() < 1<<12 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 2 {
				v := strings.TrimSpace(text.String())
				switch field {
				case "name":
					m.Name = v
				case "version":
					m.Version = v
				case "author":
					m.Author = v
				}
				field = ""
			}
			depth--
		}
	}
	if !rootSeen {
		return m, errors.New("manifest: no root element")
	}
	return m, nil
}
