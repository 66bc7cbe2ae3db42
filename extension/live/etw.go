package live

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"scsweep/extension/events"
	"scsweep/extension/source"
)

// processStart is what a Microsoft-Windows-Kernel-Process ProcessStart
// (event 1) says. The event carries no command line, user or hashes; the
// command line is read from the process (KernelRecord.CommandLine), the
// rest comes from PE enrichment and lineage.
type processStart struct {
	PID, PPID uint32
	Create    uint64 // FILETIME
	Session   uint32
	Image     string // NT path: \Device\HarddiskVolume3\Windows\System32\cmd.exe
	Label     string // mandatory label SID (version 3 on)
}

var errShort = errors.New("record shorter than its layout")

// parseProcessStart reads the user data of a ProcessStart event. ETW packs
// the fields without padding. Layouts by version (from the provider's
// manifest):
//
//	0: ProcessID u32, CreateTime u64, ParentProcessID u32, SessionID u32, ImageName wstr
//	1, 2: as 0 with Flags u32 before ImageName (2 appends checksum, timestamp, package names)
//	3: ProcessID u32, ProcessSequenceNumber u64, CreateTime u64, ParentProcessID u32,
//	   ParentProcessSequenceNumber u64, SessionID u32, Flags u32, ProcessTokenElevationType u32,
//	   ProcessTokenIsElevated u32, MandatoryLabel SID, ImageName wstr, ...
//
// A later version is read as version 3, as versions only append fields.
func parseProcessStart(version uint8, b []byte) (processStart, error) {
	r := &reader{b: b}
	var ps processStart
	if version >= 3 {
		ps.PID = r.u32()
		r.skip(8)
		ps.Create = r.u64()
		ps.PPID = r.u32()
		r.skip(8)
		ps.Session = r.u32()
		r.skip(12)
		ps.Label = r.sid()
	} else {
		ps.PID = r.u32()
		ps.Create = r.u64()
		ps.PPID = r.u32()
		ps.Session = r.u32()
		if version >= 1 {
			r.skip(4)
		}
	}
	ps.Image = r.wstr()
	if r.err != nil {
		return ps, fmt.Errorf("process start v%d: %w", version, r.err)
	}
	return ps, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) skip(n int) { r.take(n) }

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// sid reads a binary SID as its S-1-... text.
func (r *reader) sid() string {
	h := r.take(8)
	if h == nil {
		return ""
	}
	n := int(h[1])
	var auth uint64
	for _, x := range h[2:8] {
		auth = auth<<8 | uint64(x)
	}
	var sb strings.Builder
	sb.WriteString("S-" + strconv.Itoa(int(h[0])) + "-" + strconv.FormatUint(auth, 10))
	for i := 0; i < n; i++ {
		sb.WriteString("-" + strconv.FormatUint(uint64(r.u32()), 10))
	}
	if r.err != nil {
		return ""
	}
	return sb.String()
}

// wstr reads a NUL-terminated UTF-16LE string; a lone surrogate becomes
// U+FFFD.
func (r *reader) wstr() string {
	if r.err != nil {
		return ""
	}
	var u []uint16
	for len(r.b) >= 2 {
		c := binary.LittleEndian.Uint16(r.b)
		r.b = r.b[2:]
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// dosPath turns an NT device path into a drive-letter path using drives
// (\Device\HarddiskVolume3 → C:); a path on no known device is kept.
func dosPath(nt string, drives map[string]string) string {
	for dev, letter := range drives {
		if len(nt) > len(dev) && strings.EqualFold(nt[:len(dev)], dev) && nt[len(dev)] == '\\' {
			return letter + nt[len(dev):]
		}
	}
	return nt
}

// labelName names a mandatory label as Sysmon names the level, "" when
// the label is not one Sysmon names.
func labelName(sid string) string {
	if n := source.IntegrityName(sid); n != sid {
		return n
	}
	return ""
}

// filetimeUnixEpoch is 1970-01-01 as a FILETIME (100 ns since 1601).
const filetimeUnixEpoch = 116444736000000000

// kernelEvent turns a ProcessStart into an event. Its eid is derived from
// the pid and the exact creation time, which identify a process on a host.
func kernelEvent(rec KernelRecord, drives map[string]string) (*events.Event, error) {
	ps, err := parseProcessStart(rec.Version, rec.Data)
	if err != nil {
		return nil, err
	}
	if ps.Image == "" {
		return nil, errors.New("process start without an image name")
	}
	path := dosPath(ps.Image, drives)
	ev := &events.Event{
		Source:         SourceETW,
		OSType:         "windows",
		PID:            int64(ps.PID),
		HasPID:         true,
		ParentPID:      int64(ps.PPID),
		HasParentPID:   true,
		Path:           clip(path),
		Cmdline:        clip(rec.CommandLine),
		IntegrityLevel: labelName(ps.Label),
	}
	if i := strings.LastIndexByte(ev.Path, '\\'); i >= 0 {
		ev.Name = ev.Path[i+1:]
	}
	if ps.Create > filetimeUnixEpoch {
		ev.Time = int64((ps.Create - filetimeUnixEpoch) / 10_000_000)
	}
	h := sha256.Sum256([]byte("etw\x00" + strconv.FormatUint(uint64(ps.PID), 10) + "\x00" + strconv.FormatUint(ps.Create, 10)))
	ev.EID = hex.EncodeToString(h[:16])
	return ev, nil
}

// clip bounds a text field as imports do, at a rune boundary.
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	n := source.MaxFieldBytes
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// etwLoop runs the kernel session until ctx ends, restarting it with
// backoff when it fails.
func (c *Collector) etwLoop(ctx context.Context) {
	c.retry(ctx, SourceETW, c.runTrace)
}

// queueSize bounds the events waiting between the session's callback and
// the writer. The callback must not block (the kernel would drop whole
// buffers), so past this an event is dropped and counted.
const queueSize = 8192

// runTrace runs one session, batching its events into Write.
func (c *Collector) runTrace(ctx context.Context, ok func()) error {
	drives, err := c.cfg.Trace.Drives()
	if err != nil {
		c.cfg.Logf("etw: drive letters unknown, image paths stay NT paths: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := make(chan *events.Event, queueSize)
	var skipped atomic.Int64
	werr := make(chan error, 1)
	go func() {
		err := c.batchWriter(ctx, SourceETW, q, &skipped, ok)
		if err != nil {
			cancel() // stops the session: it is restarted after backoff
		}
		werr <- err
	}()
	runErr := c.cfg.Trace.Run(ctx, func(rec KernelRecord) {
		ev, err := kernelEvent(rec, drives)
		if err != nil {
			skipped.Add(1)
			return
		}
		select {
		case q <- ev:
		default:
			skipped.Add(1)
		}
	})
	close(q)
	if err := <-werr; err != nil {
		return err
	}
	if runErr == nil {
		runErr = errors.New("session ended")
	}
	return fmt.Errorf("kernel session: %w", runErr)
}

// batchWriter writes what arrives on q in batches of BatchSize, or what
// gathered within Wait, until q is closed.
func (c *Collector) batchWriter(ctx context.Context, src string, q <-chan *events.Event, skipped *atomic.Int64, ok func()) error {
	batch := make([]*events.Event, 0, c.cfg.BatchSize)
	t := time.NewTicker(c.cfg.Wait)
	defer t.Stop()
	flush := func() error {
		sk := skipped.Swap(0)
		if len(batch) == 0 && sk == 0 {
			return nil
		}
		if len(batch) > 0 {
			// What the session delivered is written even while stopping:
			// a kernel session has no bookmark to deliver it again.
			if _, err := c.cfg.Write(context.WithoutCancel(ctx), batch); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			ok()
		}
		n := int64(len(batch))
		c.update(src, func(s *Status) {
			s.Events += n
			s.Skipped += sk
			if n > 0 {
				s.LastAt = time.Now()
				s.LastErr = ""
			}
		})
		batch = batch[:0]
		return nil
	}
	for {
		select {
		case ev, open := <-q:
			if !open {
				return flush()
			}
			batch = append(batch, ev)
			if len(batch) >= c.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-t.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
