package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Velocidex/ordereddict"
	"www.velocidex.com/golang/evtx"
)

func init() {
	register(&format{
		name: "sysmon-evtx",
		doc:  "Windows .evtx event log files (Sysmon Operational or Security log, exported or copied)",
		sniff: func(head []byte) bool {
			return bytes.HasPrefix(head, evtxMagic)
		},
		read: readEVTX,
	})
}

var evtxMagic = []byte("ElfFile\x00")

const (
	evtxChunkSize       = 64 << 10
	evtxFileHeaderBytes = 4096
	// evtxChunkHeaderBytes is the chunk header and its string and template
	// tables: the first record starts there.
	evtxChunkHeaderBytes = 512
	reasonEVTXCorrupt    = "corrupt EVTX record"
	reasonEVTXTruncated  = "truncated EVTX chunk"
	reasonEVTXBadHeader  = "corrupt EVTX chunk header"
	reasonEVTXCrash      = "EVTX chunk the parser could not read within its memory and time bounds"
)

// readEVTX reads every chunk of an .evtx file. Each chunk is parsed alone
// from a private copy, so a corrupt chunk (or a panic in the parser on
// hostile bytes) costs that chunk's records, which are counted as skipped,
// and the next chunk is read. A chunk cut short by the end of the file is
// padded, and the records it still holds whole are imported.
func readEVTX(ctx context.Context, r io.Reader, s *sink) error {
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(io.LimitReader(r, maxBufferedEVTX+1))
		if err != nil {
			return fmt.Errorf("read evtx: %w", err)
		}
		if len(b) > maxBufferedEVTX {
			return errors.New("evtx stream larger than 512 MiB: import it from a file")
		}
		rs = bytes.NewReader(b)
	}
	head := make([]byte, evtxFileHeaderBytes)
	n, err := io.ReadFull(rs, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read evtx header: %w", err)
	}
	if !bytes.HasPrefix(head[:n], evtxMagic) {
		return errors.New("not an EVTX file (no ElfFile magic)")
	}
	// The header says where chunks start; Windows always writes 4096.
	start := int64(evtxFileHeaderBytes)
	if n >= 42 {
		if hb := int64(head[40]) | int64(head[41])<<8; hb >= 128 && hb <= evtxFileHeaderBytes {
			start = hb
		}
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seek evtx: %w", err)
	}
	parse, stop := newEVTXParser()
	defer stop()
	buf := make([]byte, evtxChunkSize)
	for {
		if err := s.done(); err != nil {
			return err
		}
		n, err := io.ReadFull(rs, buf)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read evtx chunk: %w", err)
		}
		clear(buf[n:])
		if err := parse(buf, n, &sinkOut{s}); err != nil {
			return err
		}
		if n < evtxChunkSize {
			return nil
		}
	}
}

// chunkOut receives what one chunk holds: Windows records, and counts of
// records that could not be read.
type chunkOut interface {
	record(wr *winRecord) error
	skip(reason string, n int)
}

// sinkOut maps a chunk's records to events in this process.
type sinkOut struct{ s *sink }

func (o *sinkOut) record(wr *winRecord) error {
	ev, why := winEvent(wr)
	if why != "" {
		o.s.skip(why)
		return nil
	}
	return o.s.put(ev)
}

func (o *sinkOut) skip(reason string, n int) { o.s.skipN(reason, n) }

// readEVTXChunk reads the records of one 64 KiB chunk, of which only the
// first valid bytes were in the file (the rest is zeros).
func readEVTXChunk(chunk []byte, valid int, s chunkOut) error {
	truncated := valid < len(chunk)
	if !bytes.HasPrefix(chunk, []byte("ElfChnk\x00")) {
		// Unused space at the end of a log is zeros; anything else is a
		// chunk whose header is gone, with an unknown number of records.
		if bytes.Count(chunk, []byte{0}) != len(chunk) {
			s.skip(reasonEVTXBadHeader, 1)
		}
		return nil
	}
	records, expected, reason := parseEVTXChunk(chunk)
	if expected == 0 {
		if truncated {
			reason = reasonEVTXTruncated
		}
		s.skip(reason, 1)
		return nil
	}
	if truncated && reason == "" && len(records) < expected {
		reason = reasonEVTXTruncated
	}
	// Records follow each other from the end of the chunk header; one that
	// reaches past the end of a cut file was parsed from padding.
	off := evtxChunkHeaderBytes
	for _, rec := range records {
		off += int(rec.Header.Size)
		if off > valid {
			s.skip(reasonEVTXTruncated, 1)
			continue
		}
		wr, why := evtxRecord(rec)
		if why != "" {
			s.skip(why, 1)
			continue
		}
		if err := s.record(wr); err != nil {
			return err
		}
	}
	if lost := expected - len(records); lost > 0 {
		if reason == "" {
			reason = reasonEVTXCorrupt
		}
		s.skip(reason, lost)
	}
	return nil
}

// parseEVTXChunk runs the parser on one chunk, turning its panics into a
// skip reason. expected is how many records the chunk header announces.
func parseEVTXChunk(chunk []byte) (records []*evtx.EventRecord, expected int, reason string) {
	c, err := evtx.NewChunk(bytes.NewReader(chunk), 0)
	if err != nil {
		return nil, 0, reasonEVTXBadHeader
	}
	if expected = chunkRecords(chunk); expected == 0 {
		return nil, 0, reasonEVTXBadHeader
	}
	defer func() {
		if p := recover(); p != nil {
			records, reason = nil, reasonEVTXCorrupt
		}
	}()
	records, err = c.Parse(0)
	if err != nil {
		reason = reasonEVTXCorrupt
	}
	return records, expected, reason
}

// chunkRecords is how many records a chunk header announces, or 0 when the
// header is not believable.
func chunkRecords(chunk []byte) int {
	if len(chunk) < 24 || !bytes.HasPrefix(chunk, []byte("ElfChnk\x00")) {
		return 0
	}
	first, last := binary.LittleEndian.Uint64(chunk[8:]), binary.LittleEndian.Uint64(chunk[16:])
	// A record takes at least 24 bytes: more than a chunk holds is a lie.
	if last < first || last-first >= evtxChunkSize/24 {
		return 0
	}
	return int(last-first) + 1
}

// evtxRecord reads the System and EventData of a parsed record.
func evtxRecord(rec *evtx.EventRecord) (wr *winRecord, reason string) {
	defer func() {
		if p := recover(); p != nil {
			wr, reason = nil, reasonEVTXCorrupt
		}
	}()
	root, ok := rec.Event.(*ordereddict.Dict)
	if !ok {
		return nil, reasonEVTXCorrupt
	}
	ev, ok := ordereddict.GetMap(root, "Event")
	if !ok {
		return nil, reasonEVTXCorrupt
	}
	wr = &winRecord{EventID: -1, Data: map[string]string{}}
	if sys, ok := ordereddict.GetMap(ev, "System"); ok {
		wr.Provider = dictString(sys, "Provider.Name")
		wr.Channel = dictString(sys, "Channel")
		wr.Computer = dictString(sys, "Computer")
		wr.RecordID = dictString(sys, "EventRecordID")
		id := dictString(sys, "EventID.Value")
		if id == "" {
			id = dictString(sys, "EventID")
		}
		if n, err := strconv.Atoi(id); err == nil {
			wr.EventID = n
		}
		if v, ok := ordereddict.GetAny(sys, "TimeCreated.SystemTime"); ok {
			if f, ok := v.(float64); ok && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e12 {
				sec, frac := math.Modf(f)
				wr.TimeCreated = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			}
		}
	}
	if wr.RecordID == "" {
		wr.RecordID = strconv.FormatUint(rec.Header.RecordID, 10)
	}
	if data, ok := ordereddict.GetMap(ev, "EventData"); ok {
		for _, k := range data.Keys() {
			v, _ := data.Get(k)
			wr.Data[k] = evtxText(v)
		}
		// A record the library did not flatten keeps <Data Name=..> items.
		if items, ok := data.Get("Data"); ok {
			if list, ok := items.([]interface{}); ok {
				for _, it := range list {
					if d, ok := it.(*ordereddict.Dict); ok {
						name := dictString(d, "Name")
						if name != "" {
							v, _ := d.Get("Value")
							wr.Data[name] = evtxText(v)
						}
					}
				}
			}
		}
	}
	for k, v := range wr.Data {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, reasonInvalidUTF8
		}
	}
	return wr, ""
}

func dictString(d *ordereddict.Dict, path string) string {
	v, ok := ordereddict.GetAny(d, path)
	if !ok {
		return ""
	}
	return evtxText(v)
}

// evtxText renders a BinXML value as the XML rendering would write it.
func evtxText(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return strings.ToUpper(fmt.Sprintf("%x", x))
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case *ordereddict.Dict, []interface{}:
		// Nested structures have no text of their own; checked before
		// Stringer, which *ordereddict.Dict also is.
		return ""
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
