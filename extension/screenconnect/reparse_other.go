//go:build !windows

package screenconnect

// isReparse is only meaningful on Windows, where junctions live.
func isReparse(string) bool { return false }
