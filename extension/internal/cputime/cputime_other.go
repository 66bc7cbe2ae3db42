//go:build !unix && !windows

package cputime

import "time"

// Process returns the CPU time the process has used so far; false on systems
// where it is not measured.
func Process() (time.Duration, bool) { return 0, false }
