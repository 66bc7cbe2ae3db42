package agent

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// machineID reads the MachineGuid Windows keeps for the installation.
func machineID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", err
	}
	defer k.Close()
	s, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", err
	}
	s = normalizeID(s)
	if s == "" {
		return "", errors.New("agent: empty MachineGuid")
	}
	return s, nil
}
