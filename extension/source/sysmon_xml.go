package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func init() {
	register(&format{
		name: "sysmon-xml",
		doc:  "Windows event XML as wevtutil qe /f:xml or Get-WinEvent ToXml() writes it: <Event> elements, enclosed or not",
		sniff: func(head []byte) bool {
			return firstSignificant(head) == '<'
		},
		read: readEventXML,
	})
}

// readEventXML cuts the stream into <Event>…</Event> elements with a byte
// scanner first, and decodes each one alone: a malformed element costs only
// itself, an oversized one is skipped without being held in memory, and
// whatever encloses the elements (<Events>, an XML declaration naming
// UTF-16) is never seen by the XML decoder.
func readEventXML(ctx context.Context, r io.Reader, s *sink) error {
	sc := &xmlScanner{r: bufio.NewReaderSize(r, 64<<10)}
	for {
		if err := s.done(); err != nil {
			return err
		}
		rec, bad, err := sc.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if bad != "" {
			s.skip(bad)
			continue
		}
		wr, reason := decodeEventXML(rec)
		if reason != "" {
			s.skip(reason)
			continue
		}
		ev, reason := winEvent(wr)
		if reason != "" {
			s.skip(reason)
			continue
		}
		if err := s.put(ev); err != nil {
			return err
		}
	}
}

// xmlScanner finds Event elements in a byte stream.
type xmlScanner struct {
	r       *bufio.Reader
	pending []byte // the start of an element found while reading the previous one
}

var (
	eventOpen  = []byte("<Event")
	eventClose = []byte("</Event>")
)

// isEventStart reports whether b (starting at '<') opens an Event element
// and not EventData, EventID, Events, ...
func isEventStart(b []byte) bool {
	if !bytes.HasPrefix(b, eventOpen) || len(b) == len(eventOpen) {
		return false
	}
	switch b[len(eventOpen)] {
	case ' ', '\t', '\r', '\n', '>', '/':
		return true
	}
	return false
}

// next returns the next element, or a skip reason for a bad one. io.EOF
// ends the stream.
func (sc *xmlScanner) next() (rec []byte, bad string, err error) {
	var buf []byte
	if sc.pending != nil {
		buf, sc.pending = sc.pending, nil
	} else {
		for {
			// Skip to the next '<' that opens an Event element.
			if _, err := sc.r.ReadSlice('<'); err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					continue
				}
				return nil, "", err
			}
			head, _ := sc.r.Peek(len(eventOpen))
			if isEventStart(append([]byte{'<'}, head...)) {
				buf = []byte{'<'}
				break
			}
		}
	}
	over := false
	for {
		piece, err := sc.r.ReadSlice('>')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				if over {
					return nil, reasonTooBig, nil
				}
				if len(bytes.TrimSpace(buf)) > 0 {
					return nil, "malformed XML: truncated Event element", nil
				}
			}
			return nil, "", err
		}
		// A new Event starting before this one closed: this one is broken.
		if i := indexEventStart(piece); i >= 0 && (len(buf) > 0 || i > 0) {
			sc.pending = append([]byte(nil), piece[i:]...)
			if over {
				return nil, reasonTooBig, nil
			}
			return nil, "malformed XML: Event element not closed", nil
		}
		if over {
			// Keep only enough to see the closing tag.
			buf = append(buf, piece...)
			if len(buf) > 2*len(eventClose) {
				buf = append(buf[:0], buf[len(buf)-len(eventClose):]...)
			}
			if bytes.HasSuffix(buf, eventClose) {
				return nil, reasonTooBig, nil
			}
			continue
		}
		buf = append(buf, piece...)
		if len(buf) > MaxRecordBytes {
			over = true
			continue
		}
		if bytes.HasSuffix(buf, eventClose) || (len(buf) > 2 && bytes.HasSuffix(buf, []byte("/>")) && isSelfClosedEvent(buf)) {
			return buf, "", nil
		}
	}
}

// indexEventStart finds an Event start tag inside piece.
func indexEventStart(piece []byte) int {
	off := 0
	for {
		i := bytes.Index(piece[off:], eventOpen)
		if i < 0 {
			return -1
		}
		if isEventStart(piece[off+i:]) {
			return off + i
		}
		off += i + 1
	}
}

// isSelfClosedEvent is <Event .../>: an element with nothing in it.
func isSelfClosedEvent(buf []byte) bool {
	return bytes.IndexByte(buf[1:], '<') < 0
}

// xmlEvent is the part of the Windows event schema scsweep reads. Tags
// carry no namespace, so the elements match in any namespace.
type xmlEvent struct {
	XMLName xml.Name `xml:"Event"`
	System  struct {
		Provider struct {
			Name string `xml:"Name,attr"`
		} `xml:"Provider"`
		EventID     string `xml:"EventID"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
		EventRecordID string `xml:"EventRecordID"`
		Channel       string `xml:"Channel"`
		Computer      string `xml:"Computer"`
	} `xml:"System"`
	EventData struct {
		Data []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"Data"`
	} `xml:"EventData"`
}

func decodeEventXML(rec []byte) (*winRecord, string) {
	if !utf8.Valid(rec) {
		return nil, reasonInvalidUTF8
	}
	var x xmlEvent
	dec := xml.NewDecoder(bytes.NewReader(rec))
	if err := dec.Decode(&x); err != nil {
		return nil, "malformed XML"
	}
	wr := &winRecord{
		Provider: strings.TrimSpace(x.System.Provider.Name),
		Channel:  strings.TrimSpace(x.System.Channel),
		Computer: strings.TrimSpace(x.System.Computer),
		RecordID: strings.TrimSpace(x.System.EventRecordID),
		EventID:  -1,
		Data:     make(map[string]string, len(x.EventData.Data)),
	}
	if n, err := strconv.Atoi(strings.TrimSpace(x.System.EventID)); err == nil {
		wr.EventID = n
	}
	if t, err := time.Parse(time.RFC3339Nano, x.System.TimeCreated.SystemTime); err == nil {
		wr.TimeCreated = t
	}
	for _, d := range x.EventData.Data {
		if d.Name != "" {
			wr.Data[d.Name] = d.Value
		}
	}
	return wr, ""
}
