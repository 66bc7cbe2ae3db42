package source

import (
	"strings"

	"scsweep/extension/events"
)

// SentinelOne Cloud Funnel (Deep Visibility) events, one JSON document a
// line with flat dotted keys ("tgt.process.image.path"). PROCESSCREATION
// is a process start: the created process is tgt.process, its creator
// src.process, as Elastic's sentinel_one_cloud_funnel pipeline maps them
// (process.* from tgt, process.parent.* from src, @timestamp from
// event.time in ms, user.name from tgt.process.user). Cloud Funnel has no
// user SID nor OriginalFilename: those stay empty.

func init() {
	register(&format{
		name: kindS1,
		doc:  "SentinelOne Cloud Funnel NDJSON: PROCESSCREATION events (child tgt.process, creator src.process)",
		read: readJSONOnly(kindS1),
	})
}

// isS1 is a Cloud Funnel event: it names its kind in meta.event.name.
func isS1(doc map[string]any) bool {
	_, ok := get(doc, "meta.event.name").(string)
	return ok && (get(doc, "event.time") != nil || get(doc, "agent.uuid") != nil)
}

func s1Event(doc map[string]any) (*events.Event, string) {
	if !strings.EqualFold(str(doc, "meta.event.name"), "PROCESSCREATION") {
		return nil, reasonNotStart
	}
	ev := &events.Event{
		Source:         "sentinel_one",
		EntityID:       str(doc, "tgt.process.uid"),
		Path:           str(doc, "tgt.process.image.path"),
		Name:           str(doc, "tgt.process.name"),
		Cmdline:        str(doc, "tgt.process.cmdline"),
		Username:       str(doc, "tgt.process.user"),
		IntegrityLevel: s1Integrity(str(doc, "tgt.process.integrityLevel")),
		ParentEntityID: str(doc, "src.process.uid"),
		ParentPath:     str(doc, "src.process.image.path"),
		ParentName:     str(doc, "src.process.name"),
		ParentCmdline:  str(doc, "src.process.cmdline"),
		MD5:            strings.ToLower(str(doc, "tgt.process.image.md5")),
		SHA1:           strings.ToLower(str(doc, "tgt.process.image.sha1")),
		SHA256:         strings.ToLower(str(doc, "tgt.process.image.sha256")),
		OSType:         strings.ToLower(str(doc, "endpoint.os")),
	}
	if ev.Path == "" && ev.Name == "" {
		return nil, "SentinelOne PROCESSCREATION without tgt.process image or name"
	}
	if ev.Name == "" {
		ev.Name = anyBase(ev.Path)
	}
	if ev.ParentName == "" {
		ev.ParentName = anyBase(ev.ParentPath)
	}
	ev.PID, ev.HasPID = integer(doc, "tgt.process.pid")
	ev.ParentPID, ev.HasParentPID = integer(doc, "src.process.pid")
	if t, ok := msTime(doc, "event.time"); ok {
		ev.Time = t
	}
	if id := str(doc, "event.id"); id != "" {
		ev.EID = eidOf("s1", str(doc, "agent.uuid"), id)
	} else {
		ev.EID = eidOf("s1", canonicalJSON(doc))
	}
	return ev, ""
}

// s1Integrity names SentinelOne's upper-case levels as Sysmon does.
func s1Integrity(l string) string {
	switch strings.ToUpper(l) {
	case "":
		return ""
	case "UNTRUSTED":
		return "Untrusted"
	case "LOW":
		return "Low"
	case "MEDIUM":
		return "Medium"
	case "HIGH":
		return "High"
	case "SYSTEM":
		return "System"
	}
	return l
}

// msTime is a time in milliseconds since the epoch as unix seconds.
func msTime(doc map[string]any, path string) (int64, bool) {
	if ms, ok := integer(doc, path); ok {
		return ms / 1000, true
	}
	if t, ok := timestamp(doc, path); ok {
		return t, true
	}
	return 0, false
}
