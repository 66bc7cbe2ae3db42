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
// DeviceProcessEvents has no process GUID, and says the OS only when a row
// carries OSPlatform: otherwise both stay empty, as in Elastic's document
// (so the rule's host.os.type == "windows" does not hold for such rows in
// Elastic either).

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
	// As the pipeline decides: category process from the table name,
	// type start from an ActionType containing ProcessCreated.
	if c := str(doc, "category"); c != "" && !strings.Contains(strings.ToLower(c), "deviceprocessevents") {
		return nil, reasonNotStart
	}
	if !strings.Contains(strings.ToLower(str(p, "ActionType")), "processcreated") {
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
	// Only a record that names its platform says the OS (DeviceProcessEvents
	// rows usually do not).
	switch plat := strings.ToLower(str(p, "OSPlatform")); {
	case strings.Contains(plat, "windows"):
		ev.OSType = "windows"
	case strings.Contains(plat, "linux"):
		ev.OSType = "linux"
	case strings.Contains(plat, "macos"):
		ev.OSType = "macos"
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
