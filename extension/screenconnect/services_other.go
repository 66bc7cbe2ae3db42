//go:build !windows

package screenconnect

// Outside Windows there is no service registry to ask; installs are found
// through the default folders and the configured roots.
func systemServices() ServiceLister { return ServiceList(nil) }

func systemTempDirs() []string { return nil }

func systemDefaultRoots() []string  { return nil }
func systemClientParents() []string { return nil }
