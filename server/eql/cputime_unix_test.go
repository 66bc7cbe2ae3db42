//go:build unix

package eql

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. Benchmarks report events
// per CPU second beside events per wall second: on a shared machine the wall
// clock also counts time the scheduler gave to others.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
