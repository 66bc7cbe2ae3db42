//go:build windows

package screenconnect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// scm reads the Windows service control manager with query rights only:
// the scanner never needs, and never asks for, the right to change a service.
type scm struct{}

func systemServices() ServiceLister { return scm{} }

func systemTempDirs() []string {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	return []string{filepath.Join(root, "Temp", "ScreenConnect")}
}

// systemDefaultRoots adds the install folders under the Program Files
// folders Windows reports, for hosts whose system drive is not C:.
func systemDefaultRoots() []string {
	var out []string
	for _, p := range systemClientParents() {
		out = append(out, filepath.Join(p, "ScreenConnect"))
	}
	return out
}

func systemClientParents() []string {
	var out []string
	for _, env := range []string{"ProgramFiles(x86)", "ProgramFiles", "ProgramW6432"} {
		if p := os.Getenv(env); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Services lists the services whose name starts with ScreenConnect.
func (scm) Services(ctx context.Context) ([]Service, error) {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("services: open service manager: %w", err)
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()
	names, err := m.ListServices()
	if err != nil {
		return nil, fmt.Errorf("services: list: %w", err)
	}
	var out []Service
	for _, name := range names {
		if ctx.Err() != nil {
			return out, fmt.Errorf("services: %w", ctx.Err())
		}
		if !strings.HasPrefix(strings.ToLower(name), "screenconnect") {
			continue
		}
		s, err := queryService(h, name)
		if err != nil {
			// A service that vanished or refuses queries still names an install.
			out = append(out, Service{Name: name})
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func queryService(m windows.Handle, name string) (Service, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return Service{}, err
	}
	h, err := windows.OpenService(m, p, windows.SERVICE_QUERY_CONFIG|windows.SERVICE_QUERY_STATUS)
	if err != nil {
		return Service{}, err
	}
	s := &mgr.Service{Name: name, Handle: h}
	defer s.Close()
	out := Service{Name: name}
	if c, err := s.Config(); err == nil {
		out.DisplayName = c.DisplayName
		out.ImagePath = c.BinaryPathName
		out.StartType = startTypeName(c.StartType)
	}
	if st, err := s.Query(); err == nil {
		out.State = stateName(st.State)
	}
	return out, nil
}

func stateName(s svc.State) string {
	switch s {
	case svc.Stopped:
		return "stopped"
	case svc.StartPending:
		return "start_pending"
	case svc.StopPending:
		return "stop_pending"
	case svc.Running:
		return "running"
	case svc.ContinuePending:
		return "continue_pending"
	case svc.PausePending:
		return "pause_pending"
	case svc.Paused:
		return "paused"
	}
	return fmt.Sprintf("state_%d", s)
}

func startTypeName(t uint32) string {
	switch t {
	case mgr.StartAutomatic:
		return "auto"
	case mgr.StartManual:
		return "demand"
	case mgr.StartDisabled:
		return "disabled"
	case windows.SERVICE_BOOT_START:
		return "boot"
	case windows.SERVICE_SYSTEM_START:
		return "system"
	}
	return fmt.Sprintf("start_%d", t)
}
