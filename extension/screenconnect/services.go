package screenconnect

import (
	"context"
	"path/filepath"
	"strings"
)

// Service is one entry of the host's service registry.
type Service struct {
	Name        string
	DisplayName string
	// ImagePath is the command line the service manager starts, as stored
	// (quoted or not, with arguments).
	ImagePath string
	State     string // running, stopped, ...; "" when unknown
	StartType string // auto, demand, disabled, ...; "" when unknown
}

// ServiceLister lists the services of the host. The Windows implementation
// reads the service control manager; elsewhere there is none.
type ServiceLister interface {
	Services(ctx context.Context) ([]Service, error)
}

// ServiceList is a ServiceLister over a fixed list, for hosts whose services
// were collected elsewhere (an offline image, a triage package).
type ServiceList []Service

// Services returns the list.
func (l ServiceList) Services(context.Context) ([]Service, error) { return l, nil }

// Binary names that tell a server from the client agent.
const (
	serverBinary        = "ScreenConnect.Service.exe"
	clientServiceBinary = "ScreenConnect.ClientService.exe"
	clientWindowsBinary = "ScreenConnect.WindowsClient.exe"
)

// imageExecutable extracts the executable from a service command line:
// `"C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe" args`,
// an unquoted path with spaces ending in .exe, or a bare path.
func imageExecutable(image string) string {
	s := strings.TrimSpace(image)
	if strings.HasPrefix(s, `"`) {
		if i := strings.IndexByte(s[1:], '"'); i >= 0 {
			return s[1 : 1+i]
		}
		return strings.TrimPrefix(s, `"`)
	}
	if i := strings.Index(strings.ToLower(s), ".exe"); i >= 0 {
		return s[:i+4]
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// baseName is the last element of a Windows or slash path, whatever the OS
// the scanner runs on, since image paths come from Windows.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// dirName is the folder of a Windows or slash path.
func dirName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		if i == 0 {
			return p[:1]
		}
		return p[:i]
	}
	return "."
}

// serviceRole says whether a service is a ScreenConnect server or client,
// from its name and image; "" when it is neither.
func serviceRole(s Service) string {
	if !strings.HasPrefix(strings.ToLower(s.Name), "screenconnect") {
		return ""
	}
	switch b := baseName(imageExecutable(s.ImagePath)); {
	case strings.EqualFold(b, serverBinary):
		return "server"
	case strings.EqualFold(b, clientServiceBinary), strings.EqualFold(b, clientWindowsBinary):
		return "client"
	}
	return ""
}

// nativePath turns a Windows path from the registry into one the OS opens.
func nativePath(p string) string { return filepath.FromSlash(strings.ReplaceAll(p, `\`, "/")) }
