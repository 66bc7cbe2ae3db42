//go:build !windows

package agent

import (
	"errors"
	"os"
	"strings"
)

// machineID reads systemd's machine id, then the SMBIOS product UUID.
func machineID() (string, error) {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id", "/sys/class/dmi/id/product_uuid"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if id := normalizeID(string(b)); id != "" {
			return id, nil
		}
	}
	return "", errors.New("agent: no machine id in /etc/machine-id or /sys/class/dmi/id/product_uuid")
}

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
