package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"scsweep/extension/events"
)

func init() {
	register(&format{
		name: "ecs",
		doc: "JSON documents, one per line, as an array or alone: ECS (Elastic Defend, winlogbeat, Endgame), " +
			"winlogbeat's raw Sysmon winlog.event_data, and EVTX dumps ({\"Event\":{\"System\",\"EventData\"}})",
		sniff: func(head []byte) bool {
			b := firstSignificant(head)
			return b == '{' || b == '['
		},
		read: readJSON,
	})
}

// readJSON splits the stream into documents and maps each one by its shape.
func readJSON(ctx context.Context, r io.Reader, s *sink) error {
	sp := &jsonSplitter{r: bufio.NewReaderSize(r, 64<<10)}
	for {
		if err := s.done(); err != nil {
			return err
		}
		rec, bad, err := sp.next()
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
		if err := jsonRecord(rec, s); err != nil {
			return err
		}
	}
}

// jsonRecord decodes one document and imports it.
func jsonRecord(rec []byte, s *sink) error {
	if !utf8.Valid(rec) {
		s.skip(reasonInvalidUTF8)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		s.skip("malformed JSON")
		return nil
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		s.skip("malformed JSON")
		return nil
	}
	doc, ok := v.(map[string]any)
	if !ok {
		s.skip("JSON value is not an object")
		return nil
	}
	// Elastic's pipeline tests wrap documents in {"events": [...]}.
	if list, ok := doc["events"].([]any); ok && len(doc) == 1 {
		for _, e := range list {
			if err := s.done(); err != nil {
				return err
			}
			d, ok := e.(map[string]any)
			if !ok {
				s.skip("JSON value is not an object")
				continue
			}
			if err := jsonDoc(d, s); err != nil {
				return err
			}
		}
		return nil
	}
	return jsonDoc(doc, s)
}

// jsonDoc maps one document by its shape: an EVTX dump, winlogbeat's raw
// Windows record, an Endgame event or an ECS document.
func jsonDoc(doc map[string]any, s *sink) error {
	var ev *events.Event
	var reason string
	switch {
	case isEVTXDump(doc):
		ev, reason = evtxDumpEvent(doc)
	case isWinlogRaw(doc):
		ev, reason = winlogEvent(doc)
	case isEndgame(doc):
		ev, reason = endgameEvent(doc)
	default:
		ev, reason = ecsEvent(doc)
	}
	if reason != "" {
		s.skip(reason)
		return nil
	}
	return s.put(ev)
}

// jsonSplitter cuts a stream of JSON documents — NDJSON, concatenated or
// pretty-printed documents, or the elements of one top-level array — into
// records without decoding them, tracking only strings and nesting.
//
// A document that is not closed before a line starting with '{' (which
// pretty printers never write inside a document, as they indent) is
// reported as malformed and the splitter starts over at that line, so one
// broken NDJSON line costs that line only.
type jsonSplitter struct {
	r       *bufio.Reader
	inArray bool // inside the top-level array
	started bool
}

func (sp *jsonSplitter) next() (rec []byte, bad string, err error) {
	// Find the start of the next value.
	var first byte
scan:
	for {
		b, err := sp.r.ReadByte()
		if err != nil {
			return nil, "", err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case ',':
			if sp.inArray {
				continue
			}
		case ']':
			if sp.inArray {
				sp.inArray = false
				continue
			}
		case '[':
			if !sp.started {
				sp.started, sp.inArray = true, true
				continue
			}
		}
		sp.started = true
		first = b
		break scan
	}
	if first != '{' && first != '[' {
		// A scalar or stray byte: skip to the end of the line.
		if _, err := sp.r.ReadSlice('\n'); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, "", err
		}
		return nil, "malformed JSON", nil
	}
	buf := []byte{first}
	depth, inString, escape, over, broken, col0 := 1, false, false, false, false, false
	for {
		b, err := sp.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if over {
					return nil, reasonTooBig, nil
				}
				return nil, "malformed JSON: truncated document", nil
			}
			return nil, "", err
		}
		if col0 && b == '{' && !inString {
			// A new document begins before this one closed.
			sp.r.UnreadByte()
			if over {
				return nil, reasonTooBig, nil
			}
			return nil, "malformed JSON: document not closed", nil
		}
		col0 = b == '\n'
		if !over {
			if len(buf) >= MaxRecordBytes {
				over, buf = true, nil
			} else {
				buf = append(buf, b)
			}
		}
		if inString {
			switch {
			case escape:
				escape = false
			case b == '\\':
				escape = true
			case b == '"':
				inString = false
			case b == '\n':
				// A raw newline cannot be in a JSON string: the string was
				// never closed.
				inString, broken = false, true
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				switch {
				case over:
					return nil, reasonTooBig, nil
				case broken:
					return nil, "malformed JSON", nil
				}
				return buf, "", nil
			}
		}
	}
}
