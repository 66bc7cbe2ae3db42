package wire

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
func (r *Result) UnmarshalJSON(data []byte) error {
	var j resultJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*r = Result{QueryID: j.QueryID, Attempt: j.Attempt, Seq: j.Seq, Final: j.Final, Status: j.Status, Error: j.Error, Stats: j.Stats}
	if len(j.Rows) == 0 {
		return nil
	}
	if len(j.Rows) > MaxChunkRows {
		return fmt.Errorf("result chunk of %d rows exceeds %d", len(j.Rows), MaxChunkRows)
	}
	seen := make(map[string]bool, len(j.Columns))
	for _, c := range j.Columns {
		if seen[c] {
			return fmt.Errorf("result column %q appears twice", c)
		}
		seen[c] = true
	}
	r.Rows = make([]map[string]string, len(j.Rows))
	for i, vals := range j.Rows {
		if len(vals) != len(j.Columns) {
			return fmt.Errorf("result row %d has %d values for %d columns", i, len(vals), len(j.Columns))
		}
		row := make(map[string]string, len(vals))
		for k, v := range vals {
			if v != nil {
				row[j.Columns[k]] = *v
			}
		}
		r.Rows[i] = row
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
