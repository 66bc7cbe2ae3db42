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
		doc:  "Windows event XML (Sysmon event 1, Security 4688) as wevtutil qe /f:xml or Get-WinEvent ToXml() writes it: <Event> elements, enclosed or not",
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

// decodeEventXML reads the parts of the Windows event schema scsweep uses
// from one Event element. It walks raw tokens rather than unmarshalling by
// reflection (about twice as fast), and checks itself that end tags match,
// which RawToken leaves to the caller. Element names match in any
// namespace.
func decodeEventXML(rec []byte) (*winRecord, string) {
	if !utf8.Valid(rec) {
		return nil, reasonInvalidUTF8
	}
	dec := xml.NewDecoder(bytes.NewReader(rec))
	wr := &winRecord{EventID: -1, Data: make(map[string]string, 24)}
	var (
		stack    []string // open element local names
		text     []byte   // character data of the innermost open element
		dataName string   // Name attribute of the open <Data>
		eventID  string
		created  string
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "malformed XML"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			text = text[:0]
			switch {
			case len(stack) == 1 && t.Name.Local != "Event":
				return nil, "malformed XML: not an Event element"
			case t.Name.Local == "Provider" && inSystem(stack):
				wr.Provider = attr(t, "Name")
			case t.Name.Local == "TimeCreated" && inSystem(stack):
				created = attr(t, "SystemTime")
			case t.Name.Local == "Data" && len(stack) == 3 && stack[1] == "EventData":
				dataName = attr(t, "Name")
			}
		case xml.CharData:
			if len(stack) >= 2 {
				text = append(text, t...)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name.Local {
				return nil, "malformed XML"
			}
			if inSystem(stack) {
				v := strings.TrimSpace(string(text))
				switch t.Name.Local {
				case "EventID":
					eventID = v
				case "EventRecordID":
					wr.RecordID = v
				case "Channel":
					wr.Channel = v
				case "Computer":
					wr.Computer = v
				}
			} else if t.Name.Local == "Data" && len(stack) == 3 && stack[1] == "EventData" && dataName != "" {
				wr.Data[dataName] = string(text)
				dataName = ""
			}
			stack = stack[:len(stack)-1]
			text = text[:0]
		}
	}
	if len(stack) != 0 {
		return nil, "malformed XML"
	}
	if n, err := strconv.Atoi(eventID); err == nil {
		wr.EventID = n
	}
	if t, err := time.Parse(time.RFC3339Nano, created); err == nil {
		wr.TimeCreated = t
	}
	return wr, ""
}

// inSystem reports whether the innermost open element is a child of
// Event/System.
func inSystem(stack []string) bool {
	return len(stack) == 3 && stack[1] == "System"
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
