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
	return readJSONKind(ctx, r, s, "")
}

// readJSONOnly is the reader of a format whose documents are JSON of one
// shape (see jsonKind): documents of another shape are skipped.
func readJSONOnly(kind string) func(context.Context, io.Reader, *sink) error {
	return func(ctx context.Context, r io.Reader, s *sink) error { return readJSONKind(ctx, r, s, kind) }
}

func readJSONKind(ctx context.Context, r io.Reader, s *sink, only string) error {
	s.onlyKind = only
	sp := &jsonSplitter{r: bufio.NewReaderSize(r, 64<<10)}
	for {
		if err := s.done(); err != nil {
			return err
		}
		rec, bad, err := sp.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Process starts held back for a later PeVersionInfo.
				return s.fdr.flush(s)
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

// JSON document shapes that have a format of their own; everything else
// is "ecs".
const (
	kindFDR        = "crowdstrike-fdr"
	kindM365       = "m365-defender"
	kindS1         = "sentinelone-cloud-funnel"
	kindECS        = "ecs"
	reasonWrongFmt = "not a record of the chosen format"
)

// jsonKind names the format a document belongs to by its fields.
func jsonKind(doc map[string]any) string {
	switch {
	case isFDR(doc):
		return kindFDR
	case isM365(doc):
		return kindM365
	case isS1(doc):
		return kindS1
	}
	return kindECS
}

// jsonDoc maps one document by its shape: a CrowdStrike FDR, Defender XDR
// or SentinelOne Cloud Funnel record, an EVTX dump, winlogbeat's raw
// Windows record, an Endgame event or an ECS document.
func jsonDoc(doc map[string]any, s *sink) error {
	kind := jsonKind(doc)
	if s.onlyKind != "" && kind != s.onlyKind {
		s.skip(reasonWrongFmt + " (" + s.onlyKind + ")")
		return nil
	}
	var ev *events.Event
	var reason string
	switch {
	case kind == kindFDR:
		return fdrDoc(doc, s)
	case kind == kindM365:
		ev, reason = m365Event(doc)
	case kind == kindS1:
		ev, reason = s1Event(doc)
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
	st := scanState{depth: 1}
	for {
		if sp.r.Buffered() == 0 {
			if _, err := sp.r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					if st.over {
						return nil, reasonTooBig, nil
					}
					return nil, "malformed JSON: truncated document", nil
				}
				return nil, "", err
			}
		}
		chunk, _ := sp.r.Peek(sp.r.Buffered())
		n, verdict := st.scan(chunk)
		if !st.over {
			if len(buf)+n > MaxRecordBytes {
				st.over, buf = true, nil
			} else {
				buf = append(buf, chunk[:n]...)
			}
		}
		sp.r.Discard(n)
		switch verdict {
		case scanEnd:
			switch {
			case st.over:
				return nil, reasonTooBig, nil
			case st.broken:
				return nil, "malformed JSON", nil
			}
			return buf, "", nil
		case scanResync:
			if st.over {
				return nil, reasonTooBig, nil
			}
			return nil, "malformed JSON: document not closed", nil
		}
	}
}

// scanState follows strings and nesting across the chunks of one document.
type scanState struct {
	depth              int
	inString, escape   bool
	over, broken, col0 bool
}

const (
	scanMore   = iota // the chunk ended inside the document
	scanEnd           // the document closed at the last byte consumed
	scanResync        // a new document starts at the first byte not consumed
)

// scan consumes bytes of chunk and says how many and why it stopped.
func (st *scanState) scan(chunk []byte) (int, int) {
	for i := 0; i < len(chunk); i++ {
		b := chunk[i]
		if st.inString {
			if st.escape {
				st.escape = false
				continue
			}
			// Skip plain string bytes in one step.
			j := bytes.IndexAny(chunk[i:], "\\\"\n")
			if j < 0 {
				return len(chunk), scanMore
			}
			i += j
			switch chunk[i] {
			case '\\':
				st.escape = true
			case '"':
				st.inString = false
			case '\n':
				// A raw newline cannot be in a JSON string: the string was
				// never closed.
				st.inString, st.broken, st.col0 = false, true, true
			}
			continue
		}
		if st.col0 && b == '{' {
			return i, scanResync
		}
		st.col0 = b == '\n'
		switch b {
		case '"':
			st.inString = true
		case '{', '[':
			st.depth++
		case '}', ']':
			st.depth--
			if st.depth == 0 {
				return i + 1, scanEnd
			}
		}
	}
	return len(chunk), scanMore
}
