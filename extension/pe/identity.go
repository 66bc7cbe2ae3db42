package pe

import (
	"time"
)

// Status values, as ECS code_signature.status and Elastic Endpoint use them.
const (
	StatusTrusted        = "trusted"
	StatusUnsigned       = "unsigned"
	StatusBadDigest      = "errorBadDigest"
	StatusBadSignature   = "errorBadSignature"
	StatusExpired        = "errorExpired"
	StatusUntrustedRoot  = "errorUntrustedRoot"
	StatusChaining       = "errorChaining"
	StatusBadTimestamp   = "errorTimestamp"
	StatusNotPE          = "errorNotPE"
	StatusTooLarge       = "errorTooLarge"
	StatusAnalysisFailed = "errorAnalysis"
)

// Identity is what scsweep knows about one executable file: the values of the
// PE, hash and code signature columns of process_lineage_events.
type Identity struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`

	// IsPE is false for files that are not PE images; only the hashes are
	// then set.
	IsPE             bool   `json:"is_pe"`
	OriginalFileName string `json:"original_file_name,omitempty"`
	Company          string `json:"company,omitempty"`
	Description      string `json:"description,omitempty"`
	Product          string `json:"product,omitempty"`
	FileVersion      string `json:"file_version,omitempty"`
	Imphash          string `json:"imphash,omitempty"`
	Arch             string `json:"arch,omitempty"`

	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`

	Signature Signature `json:"signature"`

	// Warnings are parse problems that did not stop the analysis, such as a
	// malformed version resource.
	Warnings []string `json:"warnings,omitempty"`
}

// Signature is the verified Authenticode signature of a file: the primary
// signature, the one Windows shows.
type Signature struct {
	// Present is true when the file has a certificate table with at least
	// one signature in it, even a broken one.
	Present bool `json:"present"`
	// DigestValid is true when the file's Authenticode hash equals the
	// signed one: the file was not changed after signing.
	DigestValid bool   `json:"digest_valid"`
	Status      string `json:"status"`
	Subject     string `json:"subject,omitempty"`
	Issuer      string `json:"issuer,omitempty"`
	Serial      string `json:"serial,omitempty"`
	// Timestamp is the countersignature's time (RFC 3161 or legacy); zero
	// when the signature is not timestamped.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// TimestampKind is "rfc3161" or "legacy" (a PKCS#9 counterSignature
	// from the Authenticode timestamp protocol); empty without one.
	TimestampKind string `json:"timestamp_kind,omitempty"`
	// Trusted is true when the signature chains to a root of the pool at
	// the timestamp's time (or now, without a timestamp) and the digest is
	// valid.
	Trusted bool `json:"trusted"`
	// Nested counts the extra signatures nested in the primary one.
	Nested int `json:"nested,omitempty"`
	// Error says why the status is not trusted, for people.
	Error string `json:"error,omitempty"`
}

// ECS renders the identity as flat ECS fields, the form the pe command prints.
// Names are relative to process.* (pe.*, hash.*, code_signature.*).
func (id *Identity) ECS() map[string]any {
	m := map[string]any{
		"file.path":   id.Path,
		"file.size":   id.Size,
		"file.mtime":  id.ModTime.UTC().Format(time.RFC3339),
		"hash.md5":    id.MD5,
		"hash.sha1":   id.SHA1,
		"hash.sha256": id.SHA256,
	}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("pe.original_file_name", id.OriginalFileName)
	put("pe.company", id.Company)
	put("pe.description", id.Description)
	put("pe.product", id.Product)
	put("pe.file_version", id.FileVersion)
	put("pe.imphash", id.Imphash)
	put("pe.architecture", id.Arch)
	s := id.Signature
	m["code_signature.exists"] = s.Present
	put("code_signature.status", s.Status)
	if s.Present {
		m["code_signature.trusted"] = s.Trusted
		m["code_signature.valid"] = s.DigestValid
		put("code_signature.subject_name", s.Subject)
		put("code_signature.issuer_name", s.Issuer)
		put("code_signature.serial_number", s.Serial)
		if !s.Timestamp.IsZero() {
			m["code_signature.timestamp"] = s.Timestamp.UTC().Format(time.RFC3339)
		}
		if s.Nested > 0 {
			m["code_signature.nested"] = s.Nested
		}
		put("code_signature.error", s.Error)
	}
	if len(id.Warnings) > 0 {
		m["scsweep.warnings"] = id.Warnings
	}
	return m
}
