package screenconnect

import (
	"strconv"
	"strings"
)

// FixedVersion is the first ScreenConnect release with CVE-2024-1709 and
// CVE-2024-1708 fixed.
const FixedVersion = "23.9.8"

// ParseVersion returns the numeric components of the dotted version that
// starts s ("23.9.7.8804", "23.9.7.8804 (release)", "v23.9.7"), or nil when
// s does not start with one.
func ParseVersion(s string) []int {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	var parts []int
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			break
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			break
		}
		parts = append(parts, n)
		s = s[i:]
		if len(s) < 2 || s[0] != '.' || s[1] < '0' || s[1] > '9' {
			break
		}
		s = s[1:]
	}
	return parts
}

// CompareVersions compares two parsed versions component by component,
// missing components counting as 0: it returns -1, 0 or +1.
func CompareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// Vulnerable says whether a server of version v is older than 23.9.8: "1",
// "0", or "" when v is not a version.
func Vulnerable(v string) string {
	p := ParseVersion(v)
	if p == nil {
		return ""
	}
	if CompareVersions(p, ParseVersion(FixedVersion)) < 0 {
		return "1"
	}
	return "0"
}

// formatVersion joins parsed components back into a dotted string.
func formatVersion(p []int) string {
	s := make([]string, len(p))
	for i, n := range p {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}
