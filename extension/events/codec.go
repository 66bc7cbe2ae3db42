package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"scsweep/extension/schema"
)

var rowColumns = schema.ProcessLineageEvents.ColumnNames()

// encodeRow appends the row's values in schema column order, each as a
// uvarint length and its bytes. The column list is the schema's, so a row
// stored by this version decodes into exactly the table's columns.
func encodeRow(dst []byte, row map[string]string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rowColumns)))
	for _, c := range rowColumns {
		v := row[c]
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

var errCorrupt = errors.New("events: corrupt stored row")

// decodeValues returns the stored row's values in schema column order. All
// values share one string, so a row costs two allocations.
func decodeValues(blob []byte) ([]string, error) {
	n, k := binary.Uvarint(blob)
	if k <= 0 || n > uint64(len(rowColumns)) {
		return nil, errCorrupt
	}
	s := string(blob[k:])
	off := 0
	// Columns added to the schema after the row was stored read as unknown.
	vals := make([]string, len(rowColumns))
	for i := 0; i < int(n); i++ {
		l, k := binary.Uvarint(blob[len(blob)-len(s)+off:])
		if k <= 0 || uint64(len(s)-off-k) < l {
			return nil, errCorrupt
		}
		off += k
		vals[i] = s[off : off+int(l)]
		off += int(l)
	}
	return vals, nil
}

// decodeRow rebuilds the osquery row straight into its map: going through
// decodeValues would cost a slice per row on the osquery path.
func decodeRow(blob []byte) (map[string]string, error) {
	n, k := binary.Uvarint(blob)
	if k <= 0 || n > uint64(len(rowColumns)) {
		return nil, errCorrupt
	}
	s := string(blob[k:])
	off := 0
	row := make(map[string]string, len(rowColumns))
	for i := 0; i < int(n); i++ {
		l, k := binary.Uvarint(blob[len(blob)-len(s)+off:])
		if k <= 0 || uint64(len(s)-off-k) < l {
			return nil, errCorrupt
		}
		off += k
		row[rowColumns[i]] = s[off : off+int(l)]
		off += int(l)
	}
	// Columns added to the schema after the row was stored read as unknown.
	for _, c := range rowColumns[n:] {
		row[c] = ""
	}
	return row, nil
}

// FromRow is the inverse of Event.Row.
func FromRow(row map[string]string) (*Event, error) {
	e := &Event{
		EID: row["eid"], Source: row["source"], EntityID: row["entity_id"], Name: row["name"],
		Path: row["path"], Cmdline: row["cmdline"], Cwd: row["cwd"], Username: row["username"],
		UserSID: row["user_sid"], IntegrityLevel: row["integrity_level"],
		ParentEntityID: row["parent_entity_id"], ParentName: row["parent_name"],
		ParentPath: row["parent_path"], ParentCmdline: row["parent_cmdline"],
		PEOriginalFileName: row["pe_original_file_name"], PECompany: row["pe_company"],
		PEDescription: row["pe_description"], PEProduct: row["pe_product"],
		PEFileVersion: row["pe_file_version"], PEImphash: row["pe_imphash"], PEArch: row["pe_arch"],
		MD5: row["md5"], SHA1: row["sha1"], SHA256: row["sha256"],
		SignatureStatus: row["signature_status"], SignatureSubject: row["signature_subject"],
		SignatureIssuer: row["signature_issuer"], OSType: row["os_type"],
	}
	var err error
	num := func(col string, dst *int64, known *bool) {
		v := row[col]
		if v == "" || err != nil {
			return
		}
		*dst, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			err = fmt.Errorf("events: %s %q: %w", col, v, err)
		}
		if known != nil {
			*known = true
		}
	}
	num("time", &e.Time, nil)
	num("ingested", &e.Ingested, nil)
	num("pid", &e.PID, &e.HasPID)
	num("parent_pid", &e.ParentPID, &e.HasParentPID)
	if err != nil {
		return nil, err
	}
	switch row["signature_trusted"] {
	case "1":
		t := true
		e.SignatureTrusted = &t
	case "0":
		f := false
		e.SignatureTrusted = &f
	}
	if a := row["ancestry"]; a != "" {
		if err := jsonUnmarshal(a, &e.Ancestry); err != nil {
			return nil, fmt.Errorf("events: event %s: bad ancestry: %w", e.EID, err)
		}
	}
	return e, nil
}

// rowValue renders each column of an event: Event.Row builds its map from
// it, and Insert encodes a stored row straight from it, since building the
// map cost more than the rest of preparing the row.
var rowValue = map[string]func(e *Event) string{
	"eid":                   func(e *Event) string { return e.EID },
	"time":                  func(e *Event) string { return strconv.FormatInt(e.Time, 10) },
	"ingested":              func(e *Event) string { return optInt(e.Ingested, e.Ingested != 0) },
	"source":                func(e *Event) string { return e.Source },
	"pid":                   func(e *Event) string { return optInt(e.PID, e.HasPID) },
	"entity_id":             func(e *Event) string { return e.EntityID },
	"name":                  func(e *Event) string { return e.Name },
	"path":                  func(e *Event) string { return e.Path },
	"cmdline":               func(e *Event) string { return e.Cmdline },
	"cwd":                   func(e *Event) string { return e.Cwd },
	"username":              func(e *Event) string { return e.Username },
	"user_sid":              func(e *Event) string { return e.UserSID },
	"integrity_level":       func(e *Event) string { return e.IntegrityLevel },
	"parent_pid":            func(e *Event) string { return optInt(e.ParentPID, e.HasParentPID) },
	"parent_entity_id":      func(e *Event) string { return e.ParentEntityID },
	"parent_name":           func(e *Event) string { return e.ParentName },
	"parent_path":           func(e *Event) string { return e.ParentPath },
	"parent_cmdline":        func(e *Event) string { return e.ParentCmdline },
	"ancestry":              func(e *Event) string { return e.AncestryJSON() },
	"pe_original_file_name": func(e *Event) string { return e.PEOriginalFileName },
	"pe_company":            func(e *Event) string { return e.PECompany },
	"pe_description":        func(e *Event) string { return e.PEDescription },
	"pe_product":            func(e *Event) string { return e.PEProduct },
	"pe_file_version":       func(e *Event) string { return e.PEFileVersion },
	"pe_imphash":            func(e *Event) string { return e.PEImphash },
	"pe_arch":               func(e *Event) string { return e.PEArch },
	"md5":                   func(e *Event) string { return e.MD5 },
	"sha1":                  func(e *Event) string { return e.SHA1 },
	"sha256":                func(e *Event) string { return e.SHA256 },
	"signature_status":      func(e *Event) string { return e.SignatureStatus },
	"signature_subject":     func(e *Event) string { return e.SignatureSubject },
	"signature_issuer":      func(e *Event) string { return e.SignatureIssuer },
	"signature_trusted":     func(e *Event) string { return trustedValue(e.SignatureTrusted) },
	"os_type":               func(e *Event) string { return e.OSType },
}

// rowGetters is rowValue in schema column order; a schema column the event
// does not carry reads as unknown, as it does in Row.
var rowGetters = func() []func(*Event) string {
	gs := make([]func(*Event) string, len(rowColumns))
	for i, c := range rowColumns {
		if g, ok := rowValue[c]; ok {
			gs[i] = g
		} else {
			gs[i] = func(*Event) string { return "" }
		}
	}
	return gs
}()

// encodeEvent is encodeRow(dst, e.Row()) without building the map.
func encodeEvent(dst []byte, e *Event) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rowColumns)))
	for _, g := range rowGetters {
		v := g(e)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

func trustedValue(t *bool) string {
	switch {
	case t == nil:
		return ""
	case *t:
		return "1"
	}
	return "0"
}
