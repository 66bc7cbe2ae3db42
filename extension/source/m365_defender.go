package source

import (
	"strings"

	"scsweep/extension/events"
)

// Microsoft Defender XDR Advanced Hunting DeviceProcessEvents, as the
// m365_defender integration receives them from the streaming API
// ({"category":"AdvancedHunting-DeviceProcessEvents","properties":{...}})
// or as rows exported from Advanced Hunting (the properties alone). Fields
// map as Elastic's m365_defender.event pipeline maps them: FolderPath →
// executable, FileName → name, ProcessVersionInfo* → pe.* (the product
// version becomes pe.file_version), Initiating* → parent, Account* → user.
// DeviceProcessEvents has no process GUID and does not say the OS: those
// stay empty.

func init() {
	register(&format{
		name: kindM365,
		doc:  "Microsoft Defender XDR Advanced Hunting DeviceProcessEvents (streaming API records or exported rows)",
		read: readJSONOnly(kindM365),
	})
}

// isM365 is an Advanced Hunting record, wrapped or a bare row.
func isM365(doc map[string]any) bool {
	if c, ok := doc["category"].(string); ok && strings.HasPrefix(c, "AdvancedHunting-") {
		return true
	}
	_, dev := doc["DeviceId"].(string)
	_, act := doc["ActionType"].(string)
	return dev && act
}

func m365Event(doc map[string]any) (*events.Event, string) {
	p := doc
	if props, ok := doc["properties"].(map[string]any); ok {
		p = props
	}
	if c := str(doc, "category"); c != "" && !strings.EqualFold(c, "AdvancedHunting-DeviceProcessEvents") {
		return nil, reasonNotStart
	}
	if a := str(p, "ActionType"); a != "" && !strings.EqualFold(a, "ProcessCreated") {
		return nil, reasonNotStart
	}
	if str(p, "FolderPath") == "" && str(p, "FileName") == "" {
		return nil, "Defender record without FolderPath or FileName"
	}
	ev := &events.Event{
		Source:             "m365_defender",
		Path:               str(p, "FolderPath"),
		Name:               str(p, "FileName"),
		Cmdline:            str(p, "ProcessCommandLine"),
		UserSID:            str(p, "AccountSid"),
		IntegrityLevel:     str(p, "ProcessIntegrityLevel"),
		ParentName:         str(p, "InitiatingProcessFileName"),
		ParentPath:         str(p, "InitiatingProcessFolderPath"),
		ParentCmdline:      str(p, "InitiatingProcessCommandLine"),
		PEOriginalFileName: str(p, "ProcessVersionInfoOriginalFileName"),
		PECompany:          str(p, "ProcessVersionInfoCompanyName"),
		PEDescription:      str(p, "ProcessVersionInfoFileDescription"),
		PEProduct:          str(p, "ProcessVersionInfoProductName"),
		PEFileVersion:      str(p, "ProcessVersionInfoProductVersion"),
		MD5:                strings.ToLower(str(p, "MD5")),
		SHA1:               strings.ToLower(str(p, "SHA1")),
		SHA256:             strings.ToLower(str(p, "SHA256")),
	}
	if ev.Name == "" {
		ev.Name = winBase(ev.Path)
	}
	if ev.ParentName == "" {
		ev.ParentName = winBase(ev.ParentPath)
	}
	if n, d := str(p, "AccountName"), str(p, "AccountDomain"); n != "" && d != "" {
		ev.Username = d + `\` + n
	} else {
		ev.Username = n
	}
	ev.PID, ev.HasPID = integer(p, "ProcessId")
	ev.ParentPID, ev.HasParentPID = integer(p, "InitiatingProcessId")
	t, ok := timestamp(p, "Timestamp")
	if !ok {
		t, ok = timestamp(p, "ProcessCreationTime")
	}
	if ok {
		ev.Time = t
	}
	if dev := str(p, "DeviceId"); dev != "" && ev.HasPID {
		ev.EID = eidOf("m365", dev, str(p, "ReportId"), str(p, "ProcessId"),
			firstNonEmpty(str(p, "ProcessCreationTime"), str(p, "Timestamp")))
	} else {
		ev.EID = eidOf("m365", canonicalJSON(doc))
	}
	return ev, ""
}
