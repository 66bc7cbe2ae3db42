// Package screenconnect finds ScreenConnect installs on a host and reports
// the state of their own files as table rows: the install and its version,
// the users of App_Data\User.xml, the content of App_Extensions and the
// temporary setup files CVE-2024-1709 exploitation leaves behind.
//
// Every file it reads is attacker-controlled: walks are bounded in files,
// depth and time, links are reported and never followed, archives are read
// and never extracted, and XML is bounded in size and refuses DTDs.
//
// Each table is a function returning rows keyed by the column names of
// extension/schema (every value a string, unknown = ""): Servers, Users,
// Extensions and SetupFiles. Choices the tables make:
//   - A host with only the ScreenConnect client gets a servers row with role
//     "client" (and no vulnerable verdict), so "looked, found only the agent"
//     differs from "found nothing"; Users and Extensions skip clients.
//   - The temporary user databases the setup wizard leaves in
//     Temp\ScreenConnect\<version>\ (CVE-2024-1709) are a table of their own,
//     screenconnect_setup_files, since they are not under App_Extensions and
//     carry users, not extension content.
//   - A configured root is an install folder or the root of a drive image
//     (a mounted disk, a triage copy), under which the default install
//     folders and Windows\Temp\ScreenConnect are looked up.
//   - A constraint on root is served by Options{Roots: []string{root},
//     OnlyRoots: true}, which reads that tree and nothing else.
package screenconnect

import (
	"context"
	"time"
)

// Options says where to look and how far. The zero value scans the service
// registry and the default install folders with default bounds.
type Options struct {
	// Roots are extra folders to scan. Each is either an install folder
	// (it holds ScreenConnect.Service.exe, App_Data or App_Extensions, or a
	// client binary) or the root of a drive image, under which the default
	// install folders and Windows\Temp\ScreenConnect are looked up.
	Roots []string
	// OnlyRoots skips the service registry and the default folders, so a
	// query constrained on root reads just that tree.
	OnlyRoots bool
	// TempDirs are Temp\ScreenConnect folders to list for setup leftovers;
	// nil means the system one (%SystemRoot%\Temp\ScreenConnect on Windows).
	TempDirs []string

	// MaxFiles bounds the files one App_Extensions or temp walk visits
	// (default 50000); MaxDepth bounds its folder depth (default 16).
	MaxFiles, MaxDepth int
	// Timeout bounds one call of Servers, Users, Extensions or SetupFiles
	// (default 20s); the caller's context still applies.
	Timeout time.Duration
	// MaxHashSize is the largest file that is hashed (default 64 MiB).
	MaxHashSize int64
	// MaxXMLSize is the largest user database that is parsed (default 16 MiB).
	MaxXMLSize int64
	// MaxZipEntries bounds the entries read from one archive (default 10000).
	MaxZipEntries int

	// Identify reads the version resource and signature of a binary;
	// nil means DefaultIdentify.
	Identify func(ctx context.Context, path string) (Identity, error)
	// Services lists the host's services; nil means the platform's service
	// registry (none outside Windows).
	Services ServiceLister
}

// Identity is what the scanner needs to know about a binary.
type Identity struct {
	FileVersion      string
	ProductVersion   string
	OriginalFileName string
	CompanyName      string
	ProductName      string
	SHA256           string
	// SignatureStatus is unsigned, signed, errorBadDigest, or whatever
	// a fuller identity reader reports (trusted, errorUntrustedRoot, ...).
	SignatureStatus string
	SignerSubject   string
	SignerIssuer    string
	// SignerTrusted is "1", "0", or "" when the chain was not checked.
	SignerTrusted string
}

const (
	defaultMaxFiles      = 50000
	defaultMaxDepth      = 16
	defaultTimeout       = 20 * time.Second
	defaultMaxHashSize   = 64 << 20
	defaultMaxXMLSize    = 16 << 20
	defaultMaxZipEntries = 10000
)

// withDefaults returns opts with every zero bound set to its default.
func (o Options) withDefaults() Options {
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = defaultMaxDepth
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxHashSize <= 0 {
		o.MaxHashSize = defaultMaxHashSize
	}
	if o.MaxXMLSize <= 0 {
		o.MaxXMLSize = defaultMaxXMLSize
	}
	if o.MaxZipEntries <= 0 {
		o.MaxZipEntries = defaultMaxZipEntries
	}
	if o.Identify == nil {
		o.Identify = DefaultIdentify
	}
	if o.Services == nil {
		o.Services = systemServices()
	}
	if o.TempDirs == nil && !o.OnlyRoots {
		o.TempDirs = systemTempDirs()
	}
	return o
}
