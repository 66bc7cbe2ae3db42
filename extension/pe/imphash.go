package pe

import (
	"crypto/md5"
	"encoding/hex"
	"strings"

	saferwall "github.com/saferwall/pe"
)

// imphash computes the import hash exactly as pefile's get_imphash does,
// which is what VirusTotal, Sysmon and Elastic report: for every imported
// function in import directory order, "dll.function" lowercased, the dll
// name without a .dll/.ocx/.sys extension (only the last dot counts),
// ordinals resolved through pefile's table for oleaut32, ws2_32 and wsock32
// and "ordN" otherwise; joined with commas, then MD5. saferwall's own ImpHash
// keeps the extension of a dll name with more than one dot ("a.b.dll"),
// which pefile strips, so it is not used.
func imphash(f *saferwall.File) (string, error) {
	if len(f.Imports) == 0 {
		return "", nil // pefile too: no import directory, no imphash
	}
	var b strings.Builder
	n := 0
	for _, imp := range f.Imports {
		lib := strings.ToLower(imp.Name)
		if i := strings.LastIndexByte(lib, '.'); i >= 0 {
			switch lib[i+1:] {
			case "dll", "ocx", "sys":
				lib = lib[:i]
			}
		}
		for _, fn := range imp.Functions {
			name := fn.Name
			if fn.ByOrdinal {
				name = saferwall.OrdLookup(strings.ToLower(imp.Name), uint64(fn.Ordinal), true)
			}
			if name == "" {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(lib)
			b.WriteByte('.')
			b.WriteString(strings.ToLower(name))
			n++
		}
	}
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:]), nil
}
