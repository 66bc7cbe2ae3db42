package source

import (
	"strconv"
	"strings"

	"scsweep/extension/events"
)

// Windows Security event 4688, "A new process has been created", mapped as
// Elastic's system.security and windows.forwarded pipelines map it. It
// arrives in the same renderings as Sysmon (XML, EVTX, winlogbeat JSON)
// and goes through winEvent like them.

const securityProvider = "Microsoft-Windows-Security-Auditing"

// security4688 maps a 4688 record. Process ids are hex (0x11cc). The
// new process runs as the Target account when the record names one, and
// otherwise as the Subject that created it (Target is S-1-0-0 then); user
// and user_sid follow that. 4688 has no OriginalFileName, hashes or
// process GUIDs: those stay empty. ParentProcessName exists from Windows
// 10 / Server 2016 on; before, lineage fills the parent. CommandLine is
// empty unless the audit policy includes command lines.
func security4688(rec *winRecord) *events.Event {
	d := func(k string) string { return sysmonValue(rec.Data[k]) }
	ev := &events.Event{
		Source:         "security",
		OSType:         "windows",
		Path:           d("NewProcessName"),
		Cmdline:        strings.TrimRight(d("CommandLine"), "\x00"),
		ParentPath:     d("ParentProcessName"),
		IntegrityLevel: IntegrityName(d("MandatoryLabel")),
	}
	ev.Name = winBase(ev.Path)
	ev.ParentName = winBase(ev.ParentPath)
	ev.PID, ev.HasPID = parsePID(d("NewProcessId"))
	ev.ParentPID, ev.HasParentPID = parsePID(d("ProcessId"))
	who := "Subject"
	if sid := d("TargetUserSid"); sid != "" && sid != "S-1-0-0" {
		who = "Target"
	}
	ev.UserSID = d(who + "UserSid")
	if name, dom := d(who+"UserName"), d(who+"DomainName"); name != "" && dom != "" {
		ev.Username = dom + `\` + name
	} else {
		ev.Username = name
	}
	if !rec.TimeCreated.IsZero() {
		ev.Time = rec.TimeCreated.Unix()
	}
	ev.EID = securityEID(rec, ev.PID)
	return ev
}

// securityEID identifies a Security record: computer, channel,
// EventRecordID, the new process id and the second it was written (the
// renderings disagree on sub-second digits).
func securityEID(rec *winRecord, pid int64) string {
	var sec int64
	if !rec.TimeCreated.IsZero() {
		sec = rec.TimeCreated.Unix()
	}
	return eidOf("win", "security", rec.Computer, rec.Channel, rec.RecordID,
		strconv.FormatInt(pid, 10), strconv.FormatInt(sec, 10))
}

// IntegrityName names a mandatory label SID as Sysmon names the level
// (System, High, ...); a SID it does not know is returned as it is.
func IntegrityName(sid string) string {
	switch strings.ToUpper(sid) {
	case "S-1-16-0":
		return "Untrusted"
	case "S-1-16-4096":
		return "Low"
	case "S-1-16-8192":
		return "Medium"
	case "S-1-16-8448":
		return "MediumPlus"
	case "S-1-16-12288":
		return "High"
	case "S-1-16-16384":
		return "System"
	case "S-1-16-20480":
		return "Protected"
	}
	return sid
}
