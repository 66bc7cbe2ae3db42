//go:build !unix

package hostsim

// openFileLimit: Windows has no per-process descriptor limit of note.
func openFileLimit() int { return 1 << 20 }
