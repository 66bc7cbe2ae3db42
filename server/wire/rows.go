package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A result chunk travels column-wise: the column names once, then each row
// as an array of values in that order, null where a row lacks the column.
// Against an object per row this halves the bytes of a wide table and
// spares both ends sorting and hashing every key of every row.
//
//	{"query_id":"q","attempt":0,"seq":0,"columns":["name","pid"],
//	 "rows":[["cmd.exe","4"],["x",null]],"final":true,"status":"ok",...}
type resultJSON struct {
	QueryID string      `json:"query_id"`
	Attempt int         `json:"attempt"`
	Seq     int         `json:"seq"`
	Columns []string    `json:"columns,omitempty"`
	Rows    [][]*string `json:"rows,omitempty"`
	Final   bool        `json:"final,omitempty"`
	Status  Status      `json:"status,omitempty"`
	Error   string      `json:"error,omitempty"`
	Stats   *Stats      `json:"stats,omitempty"`
}

// MarshalJSON writes the column-wise form.
func (r *Result) MarshalJSON() ([]byte, error) {
	cols := columnsOf(r.Rows)
	b := make([]byte, 0, 64+chunkSizeHint(r.Rows))
	b = append(b, `{"query_id":`...)
	b = appendJSONString(b, r.QueryID)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(r.Attempt), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, int64(r.Seq), 10)
	if len(r.Rows) > 0 {
		b = append(b, `,"columns":[`...)
		for i, c := range cols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c)
		}
		b = append(b, `],"rows":[`...)
		for i, row := range r.Rows {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			for j, c := range cols {
				if j > 0 {
					b = append(b, ',')
				}
				if v, ok := row[c]; ok {
					b = appendJSONString(b, v)
				} else {
					b = append(b, "null"...)
				}
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if r.Final {
		b = append(b, `,"final":true`...)
	}
	if r.Status != "" {
		b = append(b, `,"status":`...)
		b = appendJSONString(b, string(r.Status))
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	if r.Stats != nil {
		s, err := json.Marshal(r.Stats)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"stats":`...)
		b = append(b, s...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the column-wise form back into one map per row.
// The rows and columns, nearly all of a chunk's bytes, are cut out first
// (splitResult) and read by decodeRows and decodeStrings; encoding/json
// reads only the small rest. This is what keeps a fleet's answers from
// costing the sweeper several scans of every byte, a reflective
// allocation per value and a deep stack in every session's reader.
func (r *Result) UnmarshalJSON(data []byte) error { return r.unmarshal(data, true) }

// unmarshal is UnmarshalJSON; split false leaves the whole object to
// encoding/json, the reference the fast path is checked against.
func (r *Result) unmarshal(data []byte, split bool) error {
	var j struct {
		resultJSON
		Columns json.RawMessage `json:"columns,omitempty"`
		Rows    json.RawMessage `json:"rows,omitempty"`
	}
	var sp splitResult
	ok := split && sp.split(data)
	head := data
	if ok {
		head = sp.head
	}
	if err := json.Unmarshal(head, &j); err != nil {
		return err
	}
	rawCols, rawRows := j.Columns, j.Rows
	if ok {
		rawCols, rawRows = sp.columns, sp.rows
	}
	*r = Result{QueryID: j.QueryID, Attempt: j.Attempt, Seq: j.Seq, Final: j.Final, Status: j.Status, Error: j.Error, Stats: j.Stats}
	cols, err := decodeStrings(rawCols)
	if err != nil {
		return err
	}
	if len(rawRows) == 0 || string(rawRows) == "null" {
		return nil
	}
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c] {
			return fmt.Errorf("result column %q appears twice", c)
		}
		seen[c] = true
	}
	rows, err := decodeRows(rawRows, cols)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		r.Rows = rows
	}
	return nil
}

// splitResult cuts the values of the top-level "columns" and "rows"
// members out of a result object: head is the object with both replaced by
// null. It only finds where values end; encoding/json still validates the
// rest, decodeStrings and decodeRows the values cut out. split declines
// (false), leaving the whole object to encoding/json, for anything
// encoding/json might read differently: an escaped key, a key equal to one
// of the two but for case (which encoding/json would take for it), or a
// member twice.
type splitResult struct {
	head, columns, rows []byte
}

func (sp *splitResult) split(data []byte) bool {
	i := skipSpaceB(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	type span struct{ start, end int }
	var cut []span
	var cols, rows span
	i = skipSpaceB(data, i+1)
	if i < len(data) && data[i] == '}' {
		sp.head = data
		return true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		keyEnd, escaped := skipString(data, i)
		if keyEnd < 0 || escaped {
			return false
		}
		key := string(data[i+1 : keyEnd-1])
		i = skipSpaceB(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpaceB(data, i+1)
		vEnd := skipValue(data, i)
		if vEnd < 0 {
			return false
		}
		switch {
		case key == "rows" || key == "columns":
			target := &rows
			if key == "columns" {
				target = &cols
			}
			if target.end > 0 {
				return false
			}
			*target = span{i, vEnd}
			cut = append(cut, *target)
		case strings.EqualFold(key, "rows") || strings.EqualFold(key, "columns"):
			return false
		}
		i = skipSpaceB(data, vEnd)
		if i < len(data) && data[i] == ',' {
			i = skipSpaceB(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			break
		}
		return false
	}
	if len(cut) == 0 {
		sp.head = data
		return true
	}
	head := make([]byte, 0, 128)
	prev := 0
	for _, c := range cut {
		head = append(append(head, data[prev:c.start]...), "null"...)
		prev = c.end
	}
	sp.head = append(head, data[prev:]...)
	if cols.end > 0 {
		sp.columns = data[cols.start:cols.end]
	}
	if rows.end > 0 {
		sp.rows = data[rows.start:rows.end]
	}
	return true
}

// decodeStrings reads a JSON array of strings as encoding/json reads it
// into a []string: null (or nothing) is no slice, a null element is "".
func decodeStrings(data []byte) ([]string, error) {
	src := string(data)
	i := skipSpace(src, 0)
	if i == len(src) || strings.HasPrefix(src[i:], "null") && trailing(src, i+4) == nil {
		return nil, nil
	}
	if src[i] != '[' {
		return nil, errors.New("result columns: not an array")
	}
	out := []string{}
	i = skipSpace(src, i+1)
	if i < len(src) && src[i] == ']' {
		return out, trailing(src, i+1)
	}
	for {
		v, _, next, err := readValue(src, i)
		if err != nil {
			return nil, fmt.Errorf("result column %d: %w", len(out), err)
		}
		out = append(out, v)
		i = skipSpace(src, next)
		if i < len(src) && src[i] == ',' {
			i = skipSpace(src, i+1)
			continue
		}
		if i < len(src) && src[i] == ']' {
			return out, trailing(src, i+1)
		}
		return nil, fmt.Errorf("result columns: want , or ] after column %d", len(out)-1)
	}
}

// skipString returns the index after the JSON string starting at data[i]
// (a quote), and whether it holds an escape; -1 if it does not end.
func skipString[T ~string | ~[]byte](data T, i int) (end int, escaped bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '"':
			return j + 1, escaped
		case '\\':
			escaped = true
			j++
		}
	}
	return -1, escaped
}

// skipValue returns the index after the JSON value starting at data[i], or
// -1 if it does not end. It does not validate.
func skipValue[T ~string | ~[]byte](data T, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end, _ := skipString(data, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, _ := skipString(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return -1 // no value
			}
			return j
		}
		j++
	}
	return j
}

func skipSpaceB(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decodeRows reads a JSON array of rows, each an array of strings or nulls,
// one per column. Every value is a substring of one copy of data: one
// allocation for all values, and the chunk's bytes are held no longer than
// its rows. A string with escapes or invalid UTF-8 goes through
// encoding/json, so unescaping and the replacement of invalid UTF-8 are
// exactly what encoding/json does.
func decodeRows(data []byte, cols []string) ([]map[string]string, error) {
	return decodeRowsString(string(data), cols)
}

func decodeRowsString(src string, cols []string) ([]map[string]string, error) {
	i := skipSpace(src, 0)
	if i >= len(src) || src[i] != '[' {
		return nil, errors.New("result rows: not an array")
	}
	i = skipSpace(src, i+1)
	var rows []map[string]string
	if i < len(src) && src[i] == ']' {
		return rows, trailing(src, i+1)
	}
	for {
		if len(rows) == MaxChunkRows {
			return nil, fmt.Errorf("result chunk of more than %d rows", MaxChunkRows)
		}
		if i >= len(src) || src[i] != '[' {
			return nil, fmt.Errorf("result row %d: not an array", len(rows))
		}
		i = skipSpace(src, i+1)
		row := make(map[string]string, len(cols))
		n := 0
		if i < len(src) && src[i] == ']' {
			i++
		} else {
			for {
				if n == len(cols) {
					return nil, fmt.Errorf("result row %d has more values than its %d columns", len(rows), len(cols))
				}
				var v string
				var isNull bool
				var err error
				v, isNull, i, err = readValue(src, i)
				if err != nil {
					return nil, fmt.Errorf("result row %d value %d: %w", len(rows), n, err)
				}
				if !isNull {
					row[cols[n]] = v
				}
				n++
				i = skipSpace(src, i)
				if i < len(src) && src[i] == ',' {
					i = skipSpace(src, i+1)
					continue
				}
				if i < len(src) && src[i] == ']' {
					i++
					break
				}
				return nil, fmt.Errorf("result row %d: want , or ] after value %d", len(rows), n-1)
			}
		}
		if n != len(cols) {
			return nil, fmt.Errorf("result row %d has %d values for %d columns", len(rows), n, len(cols))
		}
		rows = append(rows, row)
		i = skipSpace(src, i)
		if i < len(src) && src[i] == ',' {
			i = skipSpace(src, i+1)
			continue
		}
		if i < len(src) && src[i] == ']' {
			return rows, trailing(src, i+1)
		}
		return nil, fmt.Errorf("result rows: want , or ] after row %d", len(rows)-1)
	}
}

// readValue reads a JSON string or null at src[i:] and returns the index
// after it.
func readValue(src string, i int) (v string, isNull bool, next int, err error) {
	if strings.HasPrefix(src[i:], "null") {
		return "", true, i + 4, nil
	}
	if i >= len(src) || src[i] != '"' {
		return "", false, i, errors.New("not a string or null")
	}
	start := i + 1
	escaped, ascii := false, true
	for j := start; j < len(src); j++ {
		switch c := src[j]; {
		case c == '"':
			if !escaped && (ascii || utf8.ValidString(src[start:j])) {
				return src[start:j], false, j + 1, nil
			}
			v, err := unquote(src[start:j])
			if err != nil {
				return "", false, i, err
			}
			return v, false, j + 1, nil
		case c == '\\':
			escaped = true
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			return "", false, i, errors.New("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false, i, errors.New("unterminated string")
}

// unquote reads the inside of a JSON string exactly as encoding/json does:
// the escapes JSON allows, surrogate pairs joined, a lone surrogate or an
// invalid UTF-8 byte each become U+FFFD. Windows paths make escaped
// strings the common case, not the exception.
func unquote(s string) (string, error) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", errors.New("unterminated escape")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					return "", errors.New("bad \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b = utf8.AppendRune(b, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", fmt.Errorf("bad escape \\%c", e)
			}
			i += 2
		case c < 0x20:
			return "", errors.New("control character in string")
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return string(b), nil
}

// hex4 reads the 4 hex digits of a \u escape at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func trailing(s string, i int) error {
	if skipSpace(s, i) != len(s) {
		return errors.New("result rows: data after the array")
	}
	return nil
}

// columnsOf returns the union of the rows' keys, sorted. Rows of one query
// share their columns, so after the first row this is one lookup per value.
func columnsOf(rows []map[string]string) []string {
	if len(rows) == 0 {
		return nil
	}
	cols := make([]string, 0, len(rows[0]))
	have := make(map[string]struct{}, len(rows[0]))
	for _, row := range rows {
		for k := range row {
			if _, ok := have[k]; !ok {
				have[k] = struct{}{}
				cols = append(cols, k)
			}
		}
	}
	slices.Sort(cols)
	return cols
}

func chunkSizeHint(rows []map[string]string) int {
	if len(rows) == 0 {
		return 0
	}
	return RowBytes(rows[0]) * len(rows)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does, so the output is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
