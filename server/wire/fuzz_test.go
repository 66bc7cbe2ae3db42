package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"hello","hello":{"host_id":"h","node_key":"k","held":[{"id":"q","attempt":1}]}}`))
	f.Add([]byte(`{"v":1,"type":"query","query":{"id":"q","sql":"select 1","issued":1,"expires":2,"sig":"AAEC"}}`))
	f.Add([]byte(`{"v":1,"type":"result","result":{"query_id":"q","columns":["a","b"],"rows":[["x",null]],"final":true,"status":"ok","stats":{"rows":1}}}`))
	f.Add([]byte(`{"v":1,"type":"result","result":{"query_id":"q","columns":["a","a"],"rows":[["x","y"]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode, and decode again to the same thing.
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", data, err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		b2, _ := Encode(m2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("got %s, want %s", b2, b)
		}
	})
}

func FuzzCheckDenied(f *testing.F) {
	f.Add("select * from curl")
	f.Add("select 'curl' -- curl\n/* curl")
	f.Add("select [curl")
	f.Fuzz(func(t *testing.T, sql string) {
		_ = CheckDenied(sql, DefaultDeniedTables)
	})
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("quote\" backslash\\ newline\n nul\x00 \x7f")
	f.Add("bad utf8 \xff\xfe and \u2028 and é")
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s, not JSON: %v", s, out, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("appendJSONString(%q) decodes to %q, want %q as encoding/json gives", s, got, want)
		}
	})
}

// FuzzDecodeRows checks the row reader against encoding/json reading the
// same array as [][]*string: same values, and an error exactly when
// encoding/json refuses (or the row shape is wrong).
func FuzzDecodeRows(f *testing.F) {
	f.Add([]byte(`[["x",null],["y","z"]]`), 2)
	f.Add([]byte(` [ [ "a\"b\\c\u00e9\ud83d\ude00" , null ] ] `), 2)
	f.Add([]byte("[[\"\xff\xfe\",\"é\"]]"), 2)
	f.Add([]byte(`[["\ud800x\udc00\ud83d\u0041\/\b\f\t"]]`), 1)
	f.Add([]byte(`[[1]]`), 1)
	f.Add([]byte(`[]`), 0)
	f.Add([]byte(`[[]]`), 0)
	f.Fuzz(func(t *testing.T, data []byte, ncols int) {
		if ncols < 0 || ncols > 8 {
			return
		}
		cols := make([]string, ncols)
		for i := range cols {
			cols[i] = string(rune('a' + i))
		}
		got, err := decodeRows(data, cols)
		var ref [][]*string
		refErr := json.Unmarshal(data, &ref)
		if refErr == nil && ref == nil {
			refErr = errors.New("null is not an array") // decodeRows is not given null
		}
		if refErr == nil {
			for _, vals := range ref {
				if len(vals) != ncols {
					refErr = errors.New("ragged")
				}
			}
			if len(ref) > MaxChunkRows {
				refErr = errors.New("too many rows")
			}
		}
		if (err != nil) != (refErr != nil) {
			t.Fatalf("%q with %d columns: got error %v, encoding/json says %v", data, ncols, err, refErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(ref) {
			t.Fatalf("%q: got %d rows, want %d", data, len(got), len(ref))
		}
		for i, vals := range ref {
			for k, v := range vals {
				g, ok := got[i][cols[k]]
				if (v != nil) != ok || (v != nil && *v != g) {
					t.Fatalf("%q: row %d column %s: got %q (present %v), want %v", data, i, cols[k], g, ok, v)
				}
			}
		}
	})
}

// FuzzResultUnmarshal checks that cutting the rows out before encoding/json
// reads a result changes nothing: same result, same refusals.
func FuzzResultUnmarshal(f *testing.F) {
	f.Add([]byte(`{"query_id":"q","attempt":1,"seq":0,"columns":["a","b"],"rows":[["x",null]],"final":true,"status":"ok","stats":{"rows":1}}`))
	f.Add([]byte(`{"query_id":"q","rows":[["x"]],"columns":["a"],"Rows":null}`))
	f.Add([]byte(`{"query_id":"q","columns":["a"],"rows":[["x"]],"rows":[["y"]]}`))
	f.Add([]byte(`{"query_id":"q\"","columns":["a"],"r\u006fws":[["x"]]}`))
	f.Add([]byte(`{"query_id":"q","columns":["a"],"rows":null,"extra":{"k":["]","}"]}}`))
	f.Add([]byte(` { "rows" : [ [ "1" ] ] , "columns" : [ "a" ] } `))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow Result
		errFast, errSlow := fast.unmarshal(data, true), slow.unmarshal(data, false)
		if (errFast != nil) != (errSlow != nil) {
			t.Fatalf("%q: got error %v, encoding/json alone says %v", data, errFast, errSlow)
		}
		if errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: got %+v, want %+v", data, fast, slow)
		}
	})
}

// FuzzDecodeResultFast checks the result fast path against encoding/json:
// whatever it accepts, encoding/json reads to the same message.
func FuzzDecodeResultFast(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"result","result":{"query_id":"q","attempt":0,"seq":0,"columns":["a","b"],"rows":[["C:\\x",null]],"final":true,"status":"ok","stats":{"rows":1,"bytes":9,"chunks":1,"wall_ms":3}}}`))
	f.Add([]byte(` { "v" : 1 , "type" : "result" , "result" : { "query_id" : "q\u00e9" , "seq" : -0 , "error" : "e\n" } } `))
	f.Add([]byte(`{"v":1,"type":"result","result":{"query_id":"q","attempt":01}}`))
	f.Add([]byte(`{"v":1,"type":"result","result":{"query_id":"q","columns":["a"],"rows":[["\ud800"]],"stats":{"rows":1e2}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeResult(data)
		if !ok {
			return
		}
		var ref Message
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("%q: fast path accepted it, encoding/json says %v", data, err)
		}
		if !reflect.DeepEqual(fast, &ref) {
			t.Fatalf("%q: got %+v, want %+v", data, fast, &ref)
		}
	})
}
