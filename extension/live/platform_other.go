//go:build !windows

package live

// Platform returns the Windows layers, which exist only on Windows.
func Platform() (EventLog, KernelTrace, string) {
	return nil, nil, "live collection runs on Windows only; import files with scsweep.ext import"
}
