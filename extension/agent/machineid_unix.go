//go:build !windows

package agent

import (
	"errors"
	"os"
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
