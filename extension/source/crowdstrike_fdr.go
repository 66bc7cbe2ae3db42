package source

import (
	"strconv"
	"strings"

	"scsweep/extension/events"
)

// CrowdStrike Falcon Data Replicator: NDJSON, one sensor event a line,
// named by event_simpleName. ProcessRollup2 (and SyntheticProcessRollup2,
// the sensor's record of a process it found running at start-up) is a
// process start; its fields map as Elastic's crowdstrike.fdr pipeline maps
// them: TargetProcessId → entity_id, RawProcessId → pid, ImageFileName →
// executable, ParentProcessId → parent entity_id, ParentBaseFileName →
// parent name, UserSid → user id, timestamp (ms) → @timestamp. FDR gives no
// parent executable, parent command line or parent pid: those stay empty
// for lineage to fill.
//
// OriginalFilename is not in ProcessRollup2 but in PeVersionInfo records of
// the same sensor (aid) and image, which may come before or after it. The
// reader holds process starts back (at most maxFDRPending) until the input
// ends, then fills pe_original_file_name, pe_company and pe_file_version
// from a PeVersionInfo of the same aid and SHA-256, else the same aid and
// image path.

func init() {
	register(&format{
		name: kindFDR,
		doc:  "CrowdStrike Falcon Data Replicator NDJSON: ProcessRollup2 joined with PeVersionInfo for OriginalFilename",
		read: readJSONOnly(kindFDR),
	})
}

const (
	// maxFDRPending bounds the process starts waiting for a PeVersionInfo;
	// past it the oldest is emitted with what is known so far.
	maxFDRPending = 4096
	// maxFDRVersions bounds the PeVersionInfo records remembered.
	maxFDRVersions = 1 << 16

	reasonFDRVersion = "CrowdStrike PeVersionInfo (joined to process starts, not one itself)"
)

// isFDR is a sensor event: event_simpleName beside the sensor id.
func isFDR(doc map[string]any) bool {
	if _, ok := doc["event_simpleName"].(string); !ok {
		return false
	}
	return doc["aid"] != nil || doc["cid"] != nil
}

type peVersion struct{ original, company, version string }

type fdrPending struct {
	ev   *events.Event
	keys [2]string
}

// fdrJoin holds the state of one import's PeVersionInfo join.
type fdrJoin struct {
	pending  []fdrPending
	versions map[string]peVersion
}

// fdrKeys are the join keys of a record: aid with the SHA-256, and aid
// with the image path.
func fdrKeys(doc map[string]any) [2]string {
	aid := str(doc, "aid")
	var k [2]string
	if h := strings.ToLower(str(doc, "SHA256HashData")); h != "" {
		k[0] = aid + "\x00sha256\x00" + h
	}
	if p := strings.ToLower(str(doc, "ImageFileName")); p != "" {
		k[1] = aid + "\x00image\x00" + p
	}
	return k
}

// fdrDoc imports one FDR record.
func fdrDoc(doc map[string]any, s *sink) error {
	switch str(doc, "event_simpleName") {
	case "ProcessRollup2", "SyntheticProcessRollup2":
	case "PeVersionInfo":
		s.skip(reasonFDRVersion)
		v := peVersion{str(doc, "OriginalFilename"), str(doc, "CompanyName"), str(doc, "FileVersion")}
		if v == (peVersion{}) {
			return nil
		}
		if s.fdr.versions == nil {
			s.fdr.versions = map[string]peVersion{}
		}
		for _, k := range fdrKeys(doc) {
			if k != "" && len(s.fdr.versions) < maxFDRVersions {
				s.fdr.versions[k] = v
			}
		}
		return nil
	default:
		s.skip(reasonNotStart)
		return nil
	}
	ev := fdrEvent(doc)
	s.fdr.pending = append(s.fdr.pending, fdrPending{ev, fdrKeys(doc)})
	if len(s.fdr.pending) > maxFDRPending {
		p := s.fdr.pending[0]
		s.fdr.pending = s.fdr.pending[1:]
		s.fdr.apply(p)
		return s.put(p.ev)
	}
	return nil
}

// flush emits every process start still held, joined with what is known.
func (j *fdrJoin) flush(s *sink) error {
	for len(j.pending) > 0 {
		p := j.pending[0]
		j.pending = j.pending[1:]
		j.apply(p)
		if err := s.put(p.ev); err != nil {
			return err
		}
	}
	return nil
}

func (j *fdrJoin) apply(p fdrPending) {
	if p.ev.PEOriginalFileName != "" {
		return
	}
	for _, k := range p.keys {
		if v, ok := j.versions[k]; ok && k != "" {
			p.ev.PEOriginalFileName = v.original
			p.ev.PECompany = firstNonEmpty(p.ev.PECompany, v.company)
			p.ev.PEFileVersion = firstNonEmpty(p.ev.PEFileVersion, v.version)
			return
		}
	}
}

// fdrEvent maps a ProcessRollup2.
func fdrEvent(doc map[string]any) *events.Event {
	ev := &events.Event{
		Source:             "crowdstrike",
		EntityID:           str(doc, "TargetProcessId"),
		Path:               str(doc, "ImageFileName"),
		Cmdline:            str(doc, "CommandLine"),
		UserSID:            str(doc, "UserSid"),
		Username:           str(doc, "UserName"),
		ParentEntityID:     str(doc, "ParentProcessId"),
		ParentName:         str(doc, "ParentBaseFileName"),
		PEOriginalFileName: str(doc, "OriginalFilename"),
		MD5:                strings.ToLower(str(doc, "MD5HashData")),
		SHA1:               strings.ToLower(str(doc, "SHA1HashData")),
		SHA256:             strings.ToLower(str(doc, "SHA256HashData")),
	}
	ev.Name = winBase(ev.Path)
	if ev.Name == "" {
		ev.Name = anyBase(ev.Path)
	}
	ev.PID, ev.HasPID = integer(doc, "RawProcessId")
	if il := str(doc, "IntegrityLevel"); il != "" {
		// A mandatory label RID in decimal (8192 is Medium).
		if n, err := strconv.ParseUint(il, 10, 32); err == nil {
			if name := IntegrityName("S-1-16-" + strconv.FormatUint(n, 10)); !strings.HasPrefix(name, "S-") {
				ev.IntegrityLevel = name
			}
		}
	}
	switch strings.ToLower(str(doc, "event_platform")) {
	case "win":
		ev.OSType = "windows"
	case "mac":
		ev.OSType = "macos"
	case "lin":
		ev.OSType = "linux"
	}
	if ms, ok := integer(doc, "timestamp"); ok {
		ev.Time = ms / 1000
	} else if st := str(doc, "ProcessStartTime"); st != "" {
		if f, err := strconv.ParseFloat(st, 64); err == nil {
			ev.Time = int64(f)
		}
	}
	if id := str(doc, "id"); id != "" {
		ev.EID = eidOf("fdr", str(doc, "aid"), str(doc, "cid"), id)
	} else {
		ev.EID = eidOf("fdr", canonicalJSON(doc))
	}
	return ev
}
