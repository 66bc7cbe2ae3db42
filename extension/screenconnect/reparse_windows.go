//go:build windows

package screenconnect

import "golang.org/x/sys/windows"

// isReparse reports whether p is a reparse point (a junction, a mount point,
// a symbolic link), which the walk reports instead of entering.
func isReparse(p string) bool {
	u, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return false
	}
	a, err := windows.GetFileAttributes(u)
	return err == nil && a&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0
}
