package screenconnect

import (
	"strings"
)

// ClimbsOut reports whether an archive entry name would land outside the
// folder the archive is unpacked into: an absolute path, a drive letter or
// UNC prefix, or more ".." than folders before it. Both separators count, as
// they do on Windows, which is how CVE-2024-1708 used them.
func ClimbsOut(name string) bool {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") {
		return true
	}
	if len(n) >= 2 && n[1] == ':' && isLetter(n[0]) {
		return true
	}
	depth := 0
	for _, part := range strings.Split(n, "/") {
		// Windows drops trailing dots and spaces, so "..." and ".. " are "..".
		p := strings.TrimRight(part, ". ")
		switch {
		case part == "" || part == ".":
		case p == "" && strings.Contains(part, ".."):
			depth--
			if depth < 0 {
				return true
			}
		case p == "":
			// only dots or spaces, fewer than two dots: stays in place
		default:
			depth++
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
