// Package pe tells what an executable really is: its PE version resource
// (OriginalFilename, CompanyName, ...), import hash, file hashes and
// Authenticode signature, verified against a configured root pool.
//
// Files on a compromised host are written by the attacker, so parsing is
// bounded in size and time and, through Isolated, runs in a go-plugin
// subprocess that can crash or hang without harming the extension. The
// Enricher fills process start events from a bounded cache keyed by the
// file's path, size and modification time.
package pe
