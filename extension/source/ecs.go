package source

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"scsweep/extension/events"
)

// ecsEvent maps an ECS process start (Elastic Defend, winlogbeat after its
// Sysmon or Security processing, anything ECS-shaped). Only documents with
// event.category process and event.type start are process starts.
func ecsEvent(doc map[string]any) (*events.Event, string) {
	if !hasValue(doc, "event.category", "process") || !hasValue(doc, "event.type", "start") {
		return nil, reasonNotStart
	}
	ev := &events.Event{
		Source:             ecsSource(doc),
		EntityID:           str(doc, "process.entity_id"),
		Path:               str(doc, "process.executable"),
		Name:               str(doc, "process.name"),
		Cmdline:            str(doc, "process.command_line"),
		Cwd:                str(doc, "process.working_directory"),
		Username:           str(doc, "user.name"),
		IntegrityLevel:     str(doc, "process.Ext.token.integrity_level_name"),
		ParentEntityID:     str(doc, "process.parent.entity_id"),
		ParentPath:         str(doc, "process.parent.executable"),
		ParentName:         str(doc, "process.parent.name"),
		ParentCmdline:      str(doc, "process.parent.command_line"),
		PEOriginalFileName: str(doc, "process.pe.original_file_name"),
		PECompany:          str(doc, "process.pe.company"),
		PEDescription:      str(doc, "process.pe.description"),
		PEProduct:          str(doc, "process.pe.product"),
		PEFileVersion:      str(doc, "process.pe.file_version"),
		PEImphash:          strings.ToLower(str(doc, "process.pe.imphash")),
		PEArch:             str(doc, "process.pe.architecture"),
		MD5:                strings.ToLower(str(doc, "process.hash.md5")),
		SHA1:               strings.ToLower(str(doc, "process.hash.sha1")),
		SHA256:             strings.ToLower(str(doc, "process.hash.sha256")),
		SignatureStatus:    str(doc, "process.code_signature.status"),
		SignatureSubject:   str(doc, "process.code_signature.subject_name"),
		OSType:             strings.ToLower(str(doc, "host.os.type")),
	}
	if ev.Name == "" {
		ev.Name = anyBase(ev.Path)
	}
	if ev.ParentName == "" {
		ev.ParentName = anyBase(ev.ParentPath)
	}
	ev.PID, ev.HasPID = integer(doc, "process.pid")
	ev.ParentPID, ev.HasParentPID = integer(doc, "process.parent.pid")
	if b, ok := boolean(doc, "process.code_signature.trusted"); ok {
		ev.SignatureTrusted = &b
	}
	if ev.SignatureStatus == "" && ev.SignatureSubject == "" && ev.SignatureTrusted == nil {
		// Elastic Defend also keeps the signature as process.Ext.code_signature,
		// sometimes only there, as a list: the first entry is the image's own.
		if sig, ok := first(get(doc, "process.Ext.code_signature")).(map[string]any); ok {
			ev.SignatureStatus = str(sig, "status")
			ev.SignatureSubject = str(sig, "subject_name")
			if b, ok := boolean(sig, "trusted"); ok {
				ev.SignatureTrusted = &b
			}
		}
	}
	// The process start is the event's time; documents that lost
	// @timestamp may still say it elsewhere.
	for _, f := range []string{"@timestamp", "process.start", "event.created"} {
		if t, ok := timestamp(doc, f); ok {
			ev.Time = t
			break
		}
	}
	switch ev.Source {
	case "sysmon", "security":
		// A Windows Event Log record is from Windows wherever it was
		// shipped from, and its user.id is the event writer, not the
		// process owner. User is DOMAIN\name, as the record itself says.
		ev.OSType = "windows"
		if d := str(doc, "user.domain"); d != "" && ev.Username != "" && !strings.Contains(ev.Username, `\`) {
			ev.Username = d + `\` + ev.Username
		}
	default:
		ev.UserSID = str(doc, "user.id")
	}
	if ev.OSType == "" {
		switch p := strings.ToLower(str(doc, "host.os.platform")); p {
		case "windows", "linux", "macos":
			ev.OSType = p
		}
	}
	host := ecsHost(doc)
	if id := firstNonEmpty(str(doc, "event.id"), str(doc, "_id")); id != "" {
		ev.EID = eidOf("ecs", host, id, ev.EntityID)
	} else {
		ev.EID = eidOf("ecs", canonicalJSON(doc))
	}
	// A winlogbeat document keeps what its processing did not move out of
	// winlog.event_data: fill gaps from it, and identify it as the Windows
	// record it is so that its other renderings share its eid.
	if ev.Source == "sysmon" || ev.Source == "security" {
		if wr := winlogRecord(doc); wr != nil {
			if raw, why := winEvent(wr); why == "" {
				fillEmpty(ev, raw)
				if ev.UserSID == "" {
					ev.UserSID = raw.UserSID // 4688's own account SID; Sysmon has none
				}
				ev.EntityID = canonicalGUID(ev.EntityID)
				ev.ParentEntityID = canonicalGUID(ev.ParentEntityID)
				// Identify it as the Windows record it is, from what the
				// processing left, so its other renderings share its eid.
				if wr.RecordID != "" && wr.Computer != "" {
					if ev.Source == "sysmon" {
						ev.EID = sysmonEID(wr, ev.EntityID)
					} else {
						ev.EID = securityEID(wr, ev.PID)
					}
				}
			}
		}
	}
	return ev, ""
}

// ecsSource names where an ECS document came from.
func ecsSource(doc map[string]any) string {
	module := strings.ToLower(str(doc, "event.module"))
	dataset := strings.ToLower(str(doc, "event.dataset"))
	switch {
	case module == "endpoint" || strings.HasPrefix(dataset, "endpoint.") || str(doc, "agent.type") == "endpoint":
		return "endpoint"
	case module == "sysmon" || dataset == "windows.sysmon_operational" ||
		isSysmon(firstNonEmpty(str(doc, "winlog.provider_name"), str(doc, "event.provider")), str(doc, "winlog.channel")):
		return "sysmon"
	case strings.EqualFold(str(doc, "winlog.channel"), "Security") || strings.HasPrefix(dataset, "system.security") ||
		strings.EqualFold(str(doc, "winlog.provider_name"), "Microsoft-Windows-Security-Auditing"):
		return "security"
	}
	return "ecs"
}

func ecsHost(doc map[string]any) string {
	return firstNonEmpty(str(doc, "host.id"), str(doc, "host.name"), str(doc, "host.hostname"), str(doc, "agent.id"),
		str(doc, "winlog.computer_name"))
}

// fillEmpty copies into dst every field src knows and dst does not.
func fillEmpty(dst, src *events.Event) {
	pairs := [][2]*string{
		{&dst.EntityID, &src.EntityID}, {&dst.Name, &src.Name}, {&dst.Path, &src.Path},
		{&dst.Cmdline, &src.Cmdline}, {&dst.Cwd, &src.Cwd}, {&dst.Username, &src.Username},
		{&dst.IntegrityLevel, &src.IntegrityLevel}, {&dst.ParentEntityID, &src.ParentEntityID},
		{&dst.ParentName, &src.ParentName}, {&dst.ParentPath, &src.ParentPath},
		{&dst.ParentCmdline, &src.ParentCmdline}, {&dst.PEOriginalFileName, &src.PEOriginalFileName},
		{&dst.PECompany, &src.PECompany}, {&dst.PEDescription, &src.PEDescription},
		{&dst.PEProduct, &src.PEProduct}, {&dst.PEFileVersion, &src.PEFileVersion},
		{&dst.PEImphash, &src.PEImphash}, {&dst.MD5, &src.MD5}, {&dst.SHA1, &src.SHA1},
		{&dst.SHA256, &src.SHA256},
	}
	for _, p := range pairs {
		if *p[0] == "" {
			*p[0] = *p[1]
		}
	}
	if !dst.HasPID && src.HasPID {
		dst.PID, dst.HasPID = src.PID, true
	}
	if !dst.HasParentPID && src.HasParentPID {
		dst.ParentPID, dst.HasParentPID = src.ParentPID, true
	}
	if dst.Time == 0 {
		dst.Time = src.Time
	}
}

// isEndgame tells an Endgame event (event_type, serial_event_id, FILETIME
// timestamp) from an ECS one.
func isEndgame(doc map[string]any) bool {
	_, ok := doc["event_type"].(string)
	return ok && get(doc, "event.category") == nil
}

// endgameEvent maps an Endgame process event. A start is subtype create
// with event_subtype_full creation_event (or no event_subtype_full);
// already_running records are the sensor's inventory, not starts.
func endgameEvent(doc map[string]any) (*events.Event, string) {
	full := str(doc, "event_subtype_full")
	if str(doc, "event_type") != "process" || str(doc, "subtype") != "create" {
		return nil, reasonNotStart
	}
	switch full {
	case "creation_event", "":
	case "already_running":
		return nil, reasonNotStart + " (already running)"
	default:
		return nil, reasonNotStart
	}
	ev := &events.Event{
		Source:             "endgame",
		EntityID:           str(doc, "unique_pid"),
		ParentEntityID:     str(doc, "unique_ppid"),
		Name:               str(doc, "process_name"),
		Path:               str(doc, "process_path"),
		Cmdline:            str(doc, "command_line"),
		ParentName:         str(doc, "parent_process_name"),
		ParentPath:         str(doc, "parent_process_path"),
		PEOriginalFileName: str(doc, "original_file_name"),
		MD5:                strings.ToLower(str(doc, "md5")),
		SHA1:               strings.ToLower(str(doc, "sha1")),
		SHA256:             strings.ToLower(str(doc, "sha256")),
		UserSID:            str(doc, "user_sid"),
		OSType:             strings.ToLower(str(doc, "host.os.type")),
	}
	if u, d := str(doc, "user_name"), str(doc, "user_domain"); u != "" && d != "" {
		ev.Username = d + `\` + u
	} else {
		ev.Username = u
	}
	if ev.Name == "" {
		ev.Name = anyBase(ev.Path)
	}
	if ev.ParentName == "" {
		ev.ParentName = anyBase(ev.ParentPath)
	}
	ev.PID, ev.HasPID = integer(doc, "pid")
	ev.ParentPID, ev.HasParentPID = integer(doc, "ppid")
	ts := str(doc, "timestamp")
	if ft, ok := integer(doc, "timestamp"); ok && ft > filetimeUnixEpoch {
		ev.Time = (ft - filetimeUnixEpoch) / 10_000_000
	} else if t, ok := timestamp(doc, "@timestamp"); ok {
		ev.Time = t
	}
	if serial := str(doc, "serial_event_id"); serial != "" {
		ev.EID = eidOf("endgame", ecsHost(doc), serial, ev.EntityID, ts)
	} else {
		ev.EID = eidOf("endgame", canonicalJSON(doc))
	}
	return ev, ""
}

// filetimeUnixEpoch is 1970-01-01 as a Windows FILETIME (100 ns since 1601).
const filetimeUnixEpoch = 116444736000000000

// get finds a field by its dotted name in nested objects, flat dotted keys
// or any mix of the two ({"process.parent": {"name": ...}}).
func get(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := doc[path[:i]].(map[string]any); ok {
			if v := get(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

// first is a list's first element, or the value itself.
func first(v any) any {
	if l, ok := v.([]any); ok {
		if len(l) == 0 {
			return nil
		}
		return l[0]
	}
	return v
}

// str is a field as text; a list gives its first element.
func str(doc map[string]any, path string) string {
	return text(first(get(doc, path)))
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// hasValue reports whether the field, or one element of it, equals want
// (case-insensitively: ECS categorization values are lower case, but not
// every shipper is careful).
func hasValue(doc map[string]any, path, want string) bool {
	v := get(doc, path)
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if strings.EqualFold(text(e), want) {
				return true
			}
		}
		return false
	}
	return strings.EqualFold(text(v), want)
}

func integer(doc map[string]any, path string) (int64, bool) {
	switch x := first(get(doc, path)).(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	case string:
		return parsePID(x)
	}
	return 0, false
}

func boolean(doc map[string]any, path string) (bool, bool) {
	switch x := first(get(doc, path)).(type) {
	case bool:
		return x, true
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, true
		}
	}
	return false, false
}

func timestamp(doc map[string]any, path string) (int64, bool) {
	s := str(doc, path)
	if s == "" {
		return 0, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Unix(), true
	}
	return 0, false
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// canonicalJSON is a document's JSON with keys sorted, which identifies it
// whatever the key order or spacing of the input.
func canonicalJSON(doc map[string]any) string {
	b, err := json.Marshal(doc)
	if err != nil {
		return ""
	}
	return string(b)
}
