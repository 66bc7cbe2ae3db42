package agent

import "runtime"

const goos = runtime.GOOS

// MachineID returns the machine's UUID, as osquery's host_identifier=uuid
// uses it. It fails when the platform gives none; --host-identifier then
// has to name the host.
func MachineID() (string, error) { return machineID() }
