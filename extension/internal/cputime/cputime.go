// Package cputime measures the CPU time this process spends, so benchmarks
// on a shared machine can report the work an operation costs rather than
// the wall time the scheduler happened to give it.
package cputime

import (
	"testing"
	"time"
)

// Report starts measuring and returns a function that reports the CPU time
// (user and system, every thread of the process) spent since, divided by
// b.N, as the metric "cpu-ms/op". Call the function after the timed loop.
// Where the OS gives no process CPU time nothing is reported.
func Report(b *testing.B) func() {
	b.Helper()
	start, ok := Process()
	return func() {
		end, ok2 := Process()
		if !ok || !ok2 || b.N == 0 {
			return
		}
		b.ReportMetric(float64(end-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
