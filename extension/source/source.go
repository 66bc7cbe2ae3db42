// Package source turns records of process starts, in the formats hosts and
// SIEMs already keep them (Sysmon XML and EVTX, ECS documents from Elastic
// Defend, winlogbeat and Endgame), into normalized events.Event values.
//
// Each format is one small file that registers a reader; the Sysmon
// EventData → Event mapping is shared by every rendering of a Sysmon record
// (sysmon.go). A bad record never stops an import: it is counted in the
// Summary under a reason and the rest of the input is read.
//
// Formats: "ecs" (JSON: NDJSON, arrays or single documents from Elastic
// Defend, winlogbeat, Endgame, and EVTX dumps; it also recognizes the
// three formats below by their fields), "crowdstrike-fdr" (Falcon Data
// Replicator ProcessRollup2 joined with PeVersionInfo), "m365-defender"
// (Defender XDR DeviceProcessEvents), "sentinelone-cloud-funnel"
// (PROCESSCREATION), "sysmon-xml" (Event XML as
// wevtutil and Get-WinEvent write it, UTF-8 or UTF-16) and "sysmon-evtx"
// (.evtx files, parsed in a child process bounded in memory and time; see
// evtx_isolate.go). "auto" picks one from the first bytes.
//
// Bounds: a record over MaxRecordBytes is skipped without being held in
// memory; a text field over MaxFieldBytes is cut and the cut noted.
//
// # Event ids
//
// The eid of an event is the first 128 bits (32 hex digits) of SHA-256 over
// the record's own identity, so re-importing a record yields the same eid and
// two records never share one:
//
//   - Windows Event Log records, whatever the rendering (XML, EVTX,
//     winlogbeat or EVTX-dump JSON): "win", the provider kind, computer,
//     channel and EventRecordID, then for Sysmon the ProcessGuid and
//     UtcTime, for Security 4688 the new process id and the second the
//     record was written. The same record read from an .evtx file and from
//     its XML rendering gets the same eid.
//   - ECS documents: "ecs", the host (host.id, else host.name, else agent.id),
//     event.id (else _id) and process.entity_id. A document with neither
//     event.id nor _id is identified by the SHA-256 of its canonical JSON.
//   - Endgame documents: "endgame", host, serial_event_id, unique_pid and
//     timestamp; without serial_event_id, the canonical JSON.
//   - CrowdStrike FDR: "fdr", aid, cid and the event's id.
//   - Defender XDR: "m365", DeviceId, ReportId, ProcessId and the process
//     creation time.
//   - SentinelOne Cloud Funnel: "s1", agent.uuid and event.id.
//
// Where a record lacks its id, the canonical JSON identifies it.
package source

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"scsweep/extension/events"
)

// Summary counts what an import did.
type Summary struct {
	// Records is every record seen, imported or not.
	Records int
	// Emitted is how many events were handed to emit.
	Emitted int
	// Skipped counts records not imported, by reason.
	Skipped map[string]int
	// Notes counts records imported with a change, by what changed (a
	// command line cut to MaxFieldBytes, for instance).
	Notes map[string]int
}

// Add merges o into s, for callers that import several files.
func (s *Summary) Add(o Summary) {
	s.Records += o.Records
	s.Emitted += o.Emitted
	for k, v := range o.Skipped {
		if s.Skipped == nil {
			s.Skipped = map[string]int{}
		}
		s.Skipped[k] += v
	}
	for k, v := range o.Notes {
		if s.Notes == nil {
			s.Notes = map[string]int{}
		}
		s.Notes[k] += v
	}
}

// Limits on outside input. A record is what one Event element, one JSON
// document or one EVTX record holds.
const (
	// MaxRecordBytes bounds one record; a bigger one is skipped whole,
	// without being held in memory.
	MaxRecordBytes = 1 << 20
	// MaxFieldBytes bounds one text field of an event. Windows caps a command
	// line at 32767 UTF-16 units, so a real one fits; a longer value is cut
	// at a rune boundary and the cut is counted in Summary.Notes.
	MaxFieldBytes = 32 << 10
	// maxBufferedEVTX bounds an .evtx stream that cannot seek and has to be
	// held in memory.
	maxBufferedEVTX = 512 << 20
)

// Skip reasons shared by several formats.
const (
	reasonNotStart    = "not a process start"
	reasonTooBig      = "record larger than 1 MiB"
	reasonInvalidUTF8 = "invalid UTF-8 or UTF-16 text"
)

// format is one input format. read consumes r and reports through s; it
// returns an error only when the input as a whole cannot be read.
type format struct {
	name  string
	doc   string
	sniff func(head []byte) bool
	read  func(ctx context.Context, r io.Reader, s *sink) error
}

var registry = map[string]*format{}

// register is called from each format file's init.
func register(f *format) {
	if _, dup := registry[f.name]; dup {
		panic("source: format registered twice: " + f.name)
	}
	registry[f.name] = f
}

// Formats lists the format names Read accepts, "auto" first.
func Formats() []string {
	names := make([]string, 0, len(registry)+1)
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return append([]string{"auto"}, names...)
}

// FormatHelp describes a format in one line, for usage messages.
func FormatHelp(name string) string {
	if name == "auto" {
		return "detect from content: EVTX magic, '<' for XML, '{' or '[' for JSON"
	}
	if f, ok := registry[name]; ok {
		return f.doc
	}
	return ""
}

// ReadFile imports the file at path; see Read.
func ReadFile(ctx context.Context, path, format string, emit func(*events.Event) error) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	return Read(ctx, f, path, format, emit)
}

// Read imports every record of r in the given format ("auto" sniffs it),
// calling emit once per process start. name is used in error messages only.
// It returns an error when the input cannot be read at all, when ctx ends or
// when emit fails; the Summary then covers what was done until then.
func Read(ctx context.Context, r io.Reader, name, format string, emit func(*events.Event) error) (Summary, error) {
	s := &sink{ctx: ctx, emit: emit}
	var start int64 = -1
	if rs, ok := r.(io.Seeker); ok {
		if p, err := rs.Seek(0, io.SeekCurrent); err == nil {
			start = p
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return s.sum, fmt.Errorf("source: %s: %w", name, err)
	}
	f, err := pick(format, head)
	if err != nil {
		return s.sum, fmt.Errorf("source: %s: %w", name, err)
	}
	var in io.Reader = br
	if f.name == "sysmon-evtx" {
		// The EVTX parser seeks; give it the file itself when it can.
		if rs, ok := r.(io.ReadSeeker); ok && start >= 0 {
			if _, err := rs.Seek(start, io.SeekStart); err == nil {
				in = rs
			}
		}
	} else {
		in = textReader(br)
	}
	if err := f.read(ctx, in, s); err != nil {
		return s.sum, fmt.Errorf("source: %s: %w", name, err)
	}
	return s.sum, nil
}

func pick(name string, head []byte) (*format, error) {
	if name == "" {
		name = "auto"
	}
	if name != "auto" {
		f, ok := registry[name]
		if !ok {
			return nil, fmt.Errorf("unknown format %q (want one of %s)", name, strings.Join(Formats(), ", "))
		}
		return f, nil
	}
	for _, n := range Formats()[1:] {
		if f := registry[n]; f.sniff != nil && f.sniff(head) {
			return f, nil
		}
	}
	return nil, errors.New("cannot detect the format: not EVTX, XML or JSON (use --format)")
}

// firstSignificant returns the first byte of head that is not a byte order
// mark, whitespace or a NUL of UTF-16 text.
func firstSignificant(head []byte) byte {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for _, b := range head {
		switch b {
		case ' ', '\t', '\r', '\n', 0, 0xfe, 0xff:
			continue
		}
		return b
	}
	return 0
}

// sink collects a reader's output: counts, skip reasons and cancellation.
type sink struct {
	ctx  context.Context
	emit func(*events.Event) error
	sum  Summary
	// stop is set once emit failed; readers stop at the next record.
	stop error
	// onlyKind restricts a JSON reader to one document shape (jsonKind).
	onlyKind string
	// fdr joins CrowdStrike process starts with their PeVersionInfo.
	fdr fdrJoin
}

// skip records one record that was not imported.
func (s *sink) skip(reason string) {
	s.sum.Records++
	if s.sum.Skipped == nil {
		s.sum.Skipped = map[string]int{}
	}
	s.sum.Skipped[reason]++
}

// skipN records n records lost together (a corrupt EVTX chunk).
func (s *sink) skipN(reason string, n int) {
	if n <= 0 {
		return
	}
	s.sum.Records += n
	if s.sum.Skipped == nil {
		s.sum.Skipped = map[string]int{}
	}
	s.sum.Skipped[reason] += n
}

func (s *sink) note(what string) {
	if s.sum.Notes == nil {
		s.sum.Notes = map[string]int{}
	}
	s.sum.Notes[what]++
}

// put finishes an event (field caps) and hands it on. It returns an error
// when the import must stop.
func (s *sink) put(ev *events.Event) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.sum.Records++
	capFields(ev, s)
	if err := s.emit(ev); err != nil {
		s.stop = err
		return fmt.Errorf("emit: %w", err)
	}
	s.sum.Emitted++
	return nil
}

// done reports whether the reader must stop.
func (s *sink) done() error {
	if s.stop != nil {
		return s.stop
	}
	return s.ctx.Err()
}

// capFields cuts every text field to MaxFieldBytes.
func capFields(ev *events.Event, s *sink) {
	fields := []struct {
		name string
		p    *string
	}{
		{"cmdline", &ev.Cmdline}, {"parent_cmdline", &ev.ParentCmdline},
		{"path", &ev.Path}, {"parent_path", &ev.ParentPath}, {"cwd", &ev.Cwd},
		{"name", &ev.Name}, {"parent_name", &ev.ParentName},
		{"username", &ev.Username}, {"user_sid", &ev.UserSID},
		{"entity_id", &ev.EntityID}, {"parent_entity_id", &ev.ParentEntityID},
		{"integrity_level", &ev.IntegrityLevel},
		{"pe_original_file_name", &ev.PEOriginalFileName}, {"pe_company", &ev.PECompany},
		{"pe_description", &ev.PEDescription}, {"pe_product", &ev.PEProduct},
		{"pe_file_version", &ev.PEFileVersion}, {"pe_imphash", &ev.PEImphash},
		{"md5", &ev.MD5}, {"sha1", &ev.SHA1}, {"sha256", &ev.SHA256},
		{"signature_status", &ev.SignatureStatus}, {"signature_subject", &ev.SignatureSubject},
		{"signature_issuer", &ev.SignatureIssuer},
	}
	for _, f := range fields {
		if len(*f.p) > MaxFieldBytes {
			*f.p = truncateUTF8(*f.p, MaxFieldBytes)
			s.note(f.name + " truncated to 32 KiB")
		}
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// eidOf derives an event id from the parts that identify a record.
func eidOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// winBase is the file name of a Windows path: what follows the last
// backslash, or "" when there is none (as Elastic's pipelines do).
func winBase(p string) string {
	i := strings.LastIndexByte(p, '\\')
	if i < 0 || i == len(p)-1 {
		return ""
	}
	return p[i+1:]
}

// anyBase is the file name of a path of either OS, for sources that do not
// say which.
func anyBase(p string) string {
	i := strings.LastIndexAny(p, `\/`)
	if i == len(p)-1 {
		return ""
	}
	return p[i+1:]
}
