package screenconnect

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultRoots are the folders ScreenConnect installs into by default.
var DefaultRoots = []string{
	`C:\Program Files (x86)\ScreenConnect`,
	`C:\Program Files\ScreenConnect`,
	"/opt/screenconnect",
}

// defaultClientParents hold the client's per-instance folders,
// "ScreenConnect Client (<thumbprint>)".
var defaultClientParents = []string{`C:\Program Files (x86)`, `C:\Program Files`}

// imageInstallPaths are where installs sit under the root of a drive image.
var imageInstallPaths = [][]string{
	{"Program Files (x86)", "ScreenConnect"},
	{"Program Files", "ScreenConnect"},
	{"opt", "screenconnect"},
}

const clientFolderPrefix = "screenconnect client ("

// install is one ScreenConnect install the scanner found.
type install struct {
	root    string
	role    string // server, client, or "" when a configured root holds neither
	foundBy []string
	service *Service
	binary  string // ScreenConnect.Service.exe, or the client binary
	err     string
}

// found is the result of discovery: installs and setup temp folders.
type found struct {
	installs []*install
	tempDirs []string
	errs     []string
}

// classify tells what an install folder holds, and its main binary.
func classify(dir string) (role, binary string) {
	if !isDir(dir) {
		return "", ""
	}
	if b := findChild(dir, serverBinary); b != "" {
		return "server", b
	}
	if findChild(dir, "App_Data") != "" || findChild(dir, "App_Extensions") != "" {
		return "server", ""
	}
	for _, name := range []string{clientServiceBinary, clientWindowsBinary} {
		if b := findChild(dir, name); b != "" {
			return "client", b
		}
	}
	return "", ""
}

// clientFolders lists "ScreenConnect Client (...)" folders under parent.
func clientFolders(parent string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(strings.ToLower(e.Name()), clientFolderPrefix) {
			out = append(out, filepath.Join(parent, e.Name()))
		}
	}
	return out
}

// discover finds installs through the service registry, the default folders
// and the configured roots, merging those that name the same folder.
func discover(ctx context.Context, o Options) found {
	var f found
	byRoot := map[string]*install{}
	add := func(in *install) {
		k := pathKey(in.root)
		if old, ok := byRoot[k]; ok {
			for _, b := range in.foundBy {
				if !contains(old.foundBy, b) {
					old.foundBy = append(old.foundBy, b)
				}
			}
			if old.service == nil {
				old.service = in.service
			}
			if old.binary == "" {
				old.binary = in.binary
			}
			if old.role == "" {
				old.role = in.role
			}
			return
		}
		byRoot[k] = in
		f.installs = append(f.installs, in)
	}

	if !o.OnlyRoots {
		svcs, err := o.Services.Services(ctx)
		if err != nil {
			f.errs = append(f.errs, err.Error())
		}
		for i := range svcs {
			s := svcs[i]
			role := serviceRole(s)
			if role == "" {
				continue
			}
			exe := nativePath(imageExecutable(s.ImagePath))
			add(&install{root: dirName(exe), role: role, foundBy: []string{"service"}, service: &s, binary: exe})
		}
		for _, r := range append(DefaultRoots, systemDefaultRoots()...) {
			if role, bin := classify(r); role != "" {
				add(&install{root: r, role: role, foundBy: []string{"default"}, binary: bin})
			}
		}
		for _, p := range append(defaultClientParents, systemClientParents()...) {
			for _, r := range clientFolders(p) {
				if role, bin := classify(r); role != "" {
					add(&install{root: r, role: role, foundBy: []string{"default"}, binary: bin})
				}
			}
		}
	}

	for _, r := range o.Roots {
		if role, bin := classify(r); role != "" {
			add(&install{root: r, role: role, foundBy: []string{"root"}, binary: bin})
			continue
		}
		// Not an install: read it as the root of a drive image.
		n := len(f.installs)
		for _, rel := range imageInstallPaths {
			if d := findPath(r, rel...); d != "" {
				if role, bin := classify(d); role != "" {
					add(&install{root: d, role: role, foundBy: []string{"root"}, binary: bin})
				}
			}
		}
		for _, pf := range []string{"Program Files (x86)", "Program Files"} {
			if parent := findChild(r, pf); parent != "" {
				for _, d := range clientFolders(parent) {
					if role, bin := classify(d); role != "" {
						add(&install{root: d, role: role, foundBy: []string{"root"}, binary: bin})
					}
				}
			}
		}
		temp := findPath(r, "Windows", "Temp", "ScreenConnect")
		if temp != "" {
			f.tempDirs = append(f.tempDirs, temp)
		}
		if len(f.installs) == n && temp == "" {
			add(&install{root: r, foundBy: []string{"root"}, err: "no ScreenConnect server or client found under this root"})
		}
	}
	f.tempDirs = append(f.tempDirs, o.TempDirs...)
	sort.SliceStable(f.installs, func(i, j int) bool { return f.installs[i].root < f.installs[j].root })
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
