package agent

import (
	"runtime"
	"strings"
)

const goos = runtime.GOOS

// MachineID returns the machine's UUID, as osquery's host_identifier=uuid
// uses it. It fails when the platform gives none; --host-identifier then
// has to name the host.
func MachineID() (string, error) { return machineID() }

// normalizeID lower-cases an id and formats a bare 32-hex-digit machine id
// as a UUID, so both sources look alike.
func normalizeID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 32 && strings.Trim(s, "0123456789abcdef") == "" {
		s = s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
	}
	if strings.Trim(s, "0-") == "" {
		return ""
	}
	return s
}
