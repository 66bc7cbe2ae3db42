// Package events holds the process start event model every source produces
// and the local event store (SQLite) that the process_lineage_events table
// reads from.
package events

import (
	"encoding/json"
	"strconv"
)

// Event is one process start, normalized. Its fields are the columns of
// process_lineage_events (see extension/schema); a zero value means the
// source did not say.
type Event struct {
	EID  string `json:"eid"`  // stable id: the same record always gets the same EID
	Time int64  `json:"time"` // unix seconds, UTC
	// Ingested is when the store took the event (unix seconds); the store
	// sets it.
	Ingested       int64  `json:"ingested,omitempty"`
	Source         string `json:"source"`
	PID            int64  `json:"pid"`
	EntityID       string `json:"entity_id"`
	Name           string `json:"name"`
	Path           string `json:"path"`
	Cmdline        string `json:"cmdline"`
	Cwd            string `json:"cwd"`
	Username       string `json:"username"`
	UserSID        string `json:"user_sid"`
	IntegrityLevel string `json:"integrity_level"`

	ParentPID      int64      `json:"parent_pid"`
	ParentEntityID string     `json:"parent_entity_id"`
	ParentName     string     `json:"parent_name"`
	ParentPath     string     `json:"parent_path"`
	ParentCmdline  string     `json:"parent_cmdline"`
	Ancestry       []Ancestor `json:"ancestry,omitempty"`

	PEOriginalFileName string `json:"pe_original_file_name"`
	PECompany          string `json:"pe_company"`
	PEDescription      string `json:"pe_description"`
	PEProduct          string `json:"pe_product"`
	PEFileVersion      string `json:"pe_file_version"`
	PEImphash          string `json:"pe_imphash"`
	PEArch             string `json:"pe_arch"`
	MD5                string `json:"md5"`
	SHA1               string `json:"sha1"`
	SHA256             string `json:"sha256"`

	SignatureStatus  string `json:"signature_status"`
	SignatureSubject string `json:"signature_subject"`
	SignatureIssuer  string `json:"signature_issuer"`
	// SignatureTrusted is nil when unknown.
	SignatureTrusted *bool `json:"signature_trusted,omitempty"`

	OSType string `json:"os_type"`

	// HasPID and HasParentPID tell a real pid 0 (System Idle) from "unknown".
	HasPID       bool `json:"-"`
	HasParentPID bool `json:"-"`
}

// Ancestor is one entry of an event's known process chain.
type Ancestor struct {
	PID      int64  `json:"pid"`
	EntityID string `json:"entity_id,omitempty"`
	Name     string `json:"name,omitempty"`
	Path     string `json:"path,omitempty"`
	Time     int64  `json:"time,omitempty"`
}

// Row renders the event as an osquery row: every column present, every value
// a string, unknown values empty.
func (e *Event) Row() map[string]string {
	r := make(map[string]string, len(rowValue))
	for c, g := range rowValue {
		r[c] = g(e)
	}
	return r
}

// AncestryJSON is the ancestry column: a JSON array, nearest first, or ""
// when no ancestor is known.
func (e *Event) AncestryJSON() string {
	if len(e.Ancestry) == 0 {
		return ""
	}
	b, err := json.Marshal(e.Ancestry)
	if err != nil {
		return ""
	}
	return string(b)
}

func optInt(v int64, known bool) string {
	if !known {
		return ""
	}
	return strconv.FormatInt(v, 10)
}
