package source

import (
	"strconv"
	"strings"
	"time"

	"scsweep/extension/events"
)

// winRecord is one Windows Event Log record, whatever rendered it (XML,
// EVTX, winlogbeat JSON, an EVTX dump): the System fields that identify it
// and its EventData as name → text.
type winRecord struct {
	Provider    string
	Channel     string
	Computer    string
	EventID     int // -1 when absent or not a number
	RecordID    string
	TimeCreated time.Time // zero when absent
	Data        map[string]string
}

const (
	sysmonProvider = "Microsoft-Windows-Sysmon"
	sysmonChannel  = "Microsoft-Windows-Sysmon/Operational"
)

func isSysmon(provider, channel string) bool {
	return strings.EqualFold(provider, sysmonProvider) || strings.EqualFold(channel, sysmonChannel)
}

// sysmonEventNames names Sysmon's event ids, so a skip reason says what the
// record was without letting outside input invent new reasons.
var sysmonEventNames = map[int]string{
	2: "file creation time changed", 3: "network connection", 4: "service state changed",
	5: "process terminated", 6: "driver loaded", 7: "image loaded", 8: "CreateRemoteThread",
	9: "RawAccessRead", 10: "process access", 11: "file create", 12: "registry object",
	13: "registry value set", 14: "registry rename", 15: "file stream hash", 16: "config change",
	17: "pipe created", 18: "pipe connected", 19: "WMI filter", 20: "WMI consumer",
	21: "WMI binding", 22: "DNS query", 23: "file delete archived", 24: "clipboard change",
	25: "process tampering", 26: "file delete logged", 27: "file block executable",
	28: "file block shredding", 29: "file executable detected", 255: "error",
}

// winEvent maps a Windows record (Sysmon, or Security 4688) to an event,
// or says why it is skipped.
func winEvent(rec *winRecord) (*events.Event, string) {
	if strings.EqualFold(rec.Provider, securityProvider) {
		if rec.EventID == 4688 {
			return security4688(rec), ""
		}
		return nil, "security event other than 4688: " + reasonNotStart
	}
	if !isSysmon(rec.Provider, rec.Channel) {
		return nil, "not a Sysmon or Security record"
	}
	switch {
	case rec.EventID == 1:
		return sysmonProcessCreate(rec), ""
	case rec.EventID < 0:
		return nil, "sysmon record without an event id"
	}
	if n, ok := sysmonEventNames[rec.EventID]; ok {
		return nil, "sysmon event " + strconv.Itoa(rec.EventID) + " (" + n + "): " + reasonNotStart
	}
	return nil, "unknown sysmon event id"
}

// sysmonProcessCreate maps Sysmon Event ID 1 as Elastic's
// windows.sysmon_operational pipeline does: "-", "" and the all-zero GUID
// mean absent; names are what follows the last backslash of the image;
// hashes are lower-case and all-zero ones dropped; IMPHASH is the PE
// imphash. User is the process owner as DOMAIN\name. The record's
// Security UserID is the account that wrote the event (SYSTEM for Sysmon),
// not the owner, so user_sid stays empty: Event ID 1 carries no owner SID.
//
// Process GUIDs are written {UPPER-CASE} whatever the rendering, so the
// same record from XML, EVTX and JSON gets the same entity id and eid.
func sysmonProcessCreate(rec *winRecord) *events.Event {
	d := func(k string) string { return sysmonValue(rec.Data[k]) }
	ev := &events.Event{
		Source:             "sysmon",
		OSType:             "windows",
		EntityID:           canonicalGUID(d("ProcessGuid")),
		Path:               d("Image"),
		Cmdline:            d("CommandLine"),
		Cwd:                d("CurrentDirectory"),
		Username:           d("User"),
		IntegrityLevel:     d("IntegrityLevel"),
		ParentEntityID:     canonicalGUID(d("ParentProcessGuid")),
		ParentPath:         d("ParentImage"),
		ParentCmdline:      d("ParentCommandLine"),
		PEOriginalFileName: d("OriginalFileName"),
		PECompany:          d("Company"),
		PEDescription:      d("Description"),
		PEProduct:          d("Product"),
		PEFileVersion:      d("FileVersion"),
	}
	ev.Name = winBase(ev.Path)
	ev.ParentName = winBase(ev.ParentPath)
	ev.PID, ev.HasPID = parsePID(d("ProcessId"))
	ev.ParentPID, ev.HasParentPID = parsePID(d("ParentProcessId"))
	setSysmonHashes(ev, d("Hashes"))
	utc := d("UtcTime")
	if t, err := time.Parse("2006-01-02 15:04:05.999999999", utc); err == nil {
		ev.Time = t.Unix()
	} else if !rec.TimeCreated.IsZero() {
		ev.Time = rec.TimeCreated.Unix()
	}
	ev.EID = sysmonEID(rec, ev.EntityID)
	return ev
}

// sysmonEID identifies a Sysmon record (see the package comment).
func sysmonEID(rec *winRecord, entityID string) string {
	return eidOf("win", "sysmon", rec.Computer, rec.Channel, rec.RecordID, entityID, sysmonValue(rec.Data["UtcTime"]))
}

// sysmonValue turns Sysmon's placeholders for "nothing" into "".
func sysmonValue(v string) string {
	switch v {
	case "-", "{00000000-0000-0000-0000-000000000000}", "00000000-0000-0000-0000-000000000000":
		return ""
	}
	return v
}

// canonicalGUID writes a GUID as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX};
// anything that is not a GUID is kept as it is.
func canonicalGUID(s string) string {
	g := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(g) != 36 {
		return s
	}
	for i := 0; i < 36; i++ {
		c := g[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return s
			}
			continue
		}
		if !isHex(c) {
			return s
		}
	}
	if g == "00000000-0000-0000-0000-000000000000" {
		return ""
	}
	return "{" + strings.ToUpper(g) + "}"
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parsePID reads a decimal (or 0x hex, as Security events write them) pid.
func parsePID(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	var n int64
	var err error
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, err = strconv.ParseInt(s[2:], 16, 64)
	} else {
		n, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// setSysmonHashes reads "MD5=..,SHA256=..,IMPHASH=.." (any subset, any
// order, as the Sysmon configuration's HashAlgorithms chose).
func setSysmonHashes(ev *events.Event, h string) {
	for _, kv := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		v = strings.ToLower(strings.TrimSpace(v))
		if strings.Trim(v, "0") == "" || !allHex(v) {
			// All zeros is Sysmon's "not computed"; "-" or other non-hex
			// text is not a hash.
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "MD5":
			ev.MD5 = v
		case "SHA1":
			ev.SHA1 = v
		case "SHA256":
			ev.SHA256 = v
		case "IMPHASH":
			ev.PEImphash = v
		}
	}
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}
