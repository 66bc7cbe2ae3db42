package wire

import (
	"strconv"
	"strings"
)

// decodeResult reads a result message, the one message a fleet sends by
// the thousand, without encoding/json: no reflection, one copy of the
// message whose substrings become the values, and a shallow stack in each
// session's reader (a reader's stack, shrunk while idle, would otherwise
// grow again for every message). It accepts only the form Encode writes:
// known keys, each once, unescaped, and no nulls but in rows. Anything else
// (ok false) goes to encoding/json, which decides, so both paths accept
// and refuse the same messages.
func decodeResult(data []byte) (m *Message, ok bool) {
	src := string(data)
	m = &Message{}
	var body string
	var haveV, haveType, haveBody bool
	end, ok := members(src, skipSpace(src, 0), func(key, val string) bool {
		switch key {
		case "v":
			if haveV {
				return false
			}
			haveV = true
			n, ok := jsonInt(val)
			m.V = int(n)
			return ok
		case "type":
			if haveType || val != `"result"` {
				return false
			}
			haveType, m.Type = true, TypeResult
			return true
		case "result":
			if haveBody {
				return false
			}
			haveBody, body = true, val
			return true
		}
		return false
	})
	if !ok || skipSpace(src, end) != len(src) || !haveBody {
		return nil, false
	}
	r, ok := resultBody(body)
	if !ok {
		return nil, false
	}
	m.Result = r
	return m, true
}

func resultBody(src string) (*Result, bool) {
	r := &Result{}
	seen := map[string]bool{}
	var cols []string
	var rows string
	var haveCols bool
	_, ok := members(src, 0, func(key, val string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		var ok bool
		switch key {
		case "query_id":
			r.QueryID, ok = jsonString(val)
		case "attempt":
			var n int64
			n, ok = jsonInt(val)
			r.Attempt = int(n)
		case "seq":
			var n int64
			n, ok = jsonInt(val)
			r.Seq = int(n)
		case "final":
			switch val {
			case "true":
				r.Final, ok = true, true
			case "false":
				ok = true
			}
		case "status":
			var st string
			st, ok = jsonString(val)
			r.Status = Status(st)
		case "error":
			r.Error, ok = jsonString(val)
		case "columns":
			var err error
			cols, err = decodeStrings([]byte(val))
			haveCols, ok = true, err == nil && cols != nil
		case "rows":
			rows, ok = val, strings.HasPrefix(val, "[")
		case "stats":
			r.Stats, ok = stats(val)
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	if rows != "" {
		if !haveCols {
			return nil, false
		}
		set := make(map[string]bool, len(cols))
		for _, c := range cols {
			if set[c] {
				return nil, false
			}
			set[c] = true
		}
		rs, err := decodeRowsString(rows, cols)
		if err != nil {
			return nil, false
		}
		if len(rs) > 0 {
			r.Rows = rs
		}
	}
	return r, true
}

func stats(src string) (*Stats, bool) {
	s := &Stats{}
	seen := map[string]bool{}
	_, ok := members(src, 0, func(key, val string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		n, ok := jsonInt(val)
		switch key {
		case "rows":
			s.Rows = int(n)
		case "bytes":
			s.Bytes = int(n)
		case "chunks":
			s.Chunks = int(n)
		case "wall_ms":
			s.WallMS = n
		case "dropped":
			s.Dropped = int(n)
		case "user_time_ms":
			s.UserTimeMS = n
		case "system_time_ms":
			s.SystemTimeMS = n
		case "memory_bytes":
			s.MemoryBytes = n
		default:
			return false
		}
		return ok
	})
	return s, ok
}

// members walks the object at src[i:], calling fn with each key (which
// must be unescaped) and the raw text of its value; it returns the index
// after the object. Values are only delimited here: fn parses them.
func members(src string, i int, fn func(key, val string) bool) (int, bool) {
	if i >= len(src) || src[i] != '{' {
		return 0, false
	}
	i = skipSpace(src, i+1)
	if i < len(src) && src[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(src) || src[i] != '"' {
			return 0, false
		}
		k := strings.IndexByte(src[i+1:], '"')
		if k < 0 {
			return 0, false
		}
		key := src[i+1 : i+1+k]
		if strings.IndexByte(key, '\\') >= 0 {
			return 0, false
		}
		i = skipSpace(src, i+k+2)
		if i >= len(src) || src[i] != ':' {
			return 0, false
		}
		i = skipSpace(src, i+1)
		vEnd := skipValue(src, i)
		if vEnd < 0 || !fn(key, src[i:vEnd]) {
			return 0, false
		}
		i = skipSpace(src, vEnd)
		if i < len(src) && src[i] == ',' {
			i = skipSpace(src, i+1)
			continue
		}
		if i < len(src) && src[i] == '}' {
			return i + 1, true
		}
		return 0, false
	}
}

// jsonString reads a whole JSON string value.
func jsonString(val string) (string, bool) {
	v, isNull, next, err := readValue(val, 0)
	return v, err == nil && !isNull && next == len(val)
}

// jsonInt reads a JSON integer as encoding/json reads one into an int64:
// no fraction, exponent, plus sign or leading zero.
func jsonInt(val string) (int64, bool) {
	d := strings.TrimPrefix(val, "-")
	if d == "" || (len(d) > 1 && d[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(val, 10, 64)
	return n, err == nil
}
