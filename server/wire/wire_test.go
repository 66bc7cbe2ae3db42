package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	msgs := []*Message{
		{Type: TypeHello, Hello: &Hello{HostID: "h1", EnrollSecret: "s", Held: []QueryRef{{ID: "q1", Attempt: 2}}}},
		{Type: TypeWelcome, Welcome: &Welcome{HostID: "h1", NodeKey: "k", ChunkRows: 10, ChunkBytes: 100, QueryKey: make([]byte, 32)}},
		{Type: TypeError, Error: &Error{Code: CodeUnauthorized, Message: "no"}},
		{Type: TypeQuery, Query: &Query{ID: "q1", SQL: "select 1", Issued: 1, Expires: 2, Signature: []byte{1, 2}}},
		{Type: TypeResult, Result: &Result{QueryID: "q1", Seq: 3, Rows: []map[string]string{{"a": "1"}}, Final: true, Status: StatusOK, Stats: &Stats{Rows: 1}}},
		{Type: TypeAck, Ack: &Ack{QueryID: "q1", Attempt: 1}},
		{Type: TypePing, Ping: &Ping{Nonce: 7}},
		{Type: TypePong, Pong: &Ping{Nonce: 7}},
	}
	for _, m := range msgs {
		t.Run(string(m.Type), func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			b2, _ := Encode(got)
			if string(b) != string(b2) {
				t.Errorf("got %s, want %s", b2, b)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"not json", `{`, "unexpected end"},
		{"wrong version", `{"v":2,"type":"ping","ping":{}}`, "version 2"},
		{"unknown type", `{"v":1,"type":"shell","ping":{}}`, "unknown type"},
		{"no body", `{"v":1,"type":"ping"}`, "0 bodies"},
		{"two bodies", `{"v":1,"type":"ping","ping":{},"pong":{}}`, "2 bodies"},
		{"body of other type", `{"v":1,"type":"ping","pong":{}}`, "ping without body"},
		{"hello with both credentials", `{"v":1,"type":"hello","hello":{"host_id":"h","node_key":"k","enroll_secret":"s"}}`, "exactly one"},
		{"hello with no credential", `{"v":1,"type":"hello","hello":{"host_id":"h"}}`, "exactly one"},
		{"hello without host", `{"v":1,"type":"hello","hello":{"node_key":"k"}}`, "host_id empty"},
		{"host id with newline", `{"v":1,"type":"hello","hello":{"host_id":"a\nb","node_key":"k"}}`, "control character"},
		{"query without sql", `{"v":1,"type":"query","query":{"id":"q","issued":1,"expires":2}}`, "sql of 0 bytes"},
		{"query expiring before issue", `{"v":1,"type":"query","query":{"id":"q","sql":"x","issued":2,"expires":2}}`, "not after issued"},
		{"final result with bad status", `{"v":1,"type":"result","result":{"query_id":"q","final":true,"status":"great"}}`, "status \"great\""},
		{"status on partial chunk", `{"v":1,"type":"result","result":{"query_id":"q","status":"ok"}}`, "non-final"},
		{"negative seq", `{"v":1,"type":"result","result":{"query_id":"q","seq":-1}}`, "negative"},
		{"welcome with zero chunk", `{"v":1,"type":"welcome","welcome":{"host_id":"h","chunk_rows":0,"chunk_bytes":1}}`, "chunk bounds"},
		{"welcome without query key", `{"v":1,"type":"welcome","welcome":{"host_id":"h","chunk_rows":1,"chunk_bytes":1}}`, "query_key of 0"},
		{"too big", `{"v":1,"type":"ping","ping":{},"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}`, "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Decode([]byte(c.in))
			if err == nil {
				t.Fatalf("got message %+v, want error containing %q", m, c.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("got %v, want it to wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	m, err := Decode([]byte(`{"v":1,"type":"ping","ping":{"nonce":3,"later":true},"extra":1}`))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if m.Ping.Nonce != 3 {
		t.Errorf("got nonce %d, want 3", m.Ping.Nonce)
	}
}

func TestChunkBounds(t *testing.T) {
	row := map[string]string{"name": "cmd.exe", "pid": "4"} // RowBytes = 2+4+7+6+3+1+6 = 29
	rows := make([]map[string]string, 10)
	for i := range rows {
		rows[i] = row
	}
	big := map[string]string{"cmdline": strings.Repeat("x", 500)}
	cases := []struct {
		name        string
		rows        []map[string]string
		maxRows     int
		maxBytes    int
		wantSizes   []int
		wantDropped int
	}{
		{"by rows", rows, 4, 1 << 20, []int{4, 4, 2}, 0},
		{"by bytes", rows, 100, 29 * 3, []int{3, 3, 3, 1}, 0},
		{"exact fit", rows[:2], 2, 58, []int{2}, 0},
		{"oversized row dropped", append([]map[string]string{big}, rows[:2]...), 10, 100, []int{2}, 1},
		{"empty", nil, 10, 100, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chunks, dropped := Chunk(c.rows, c.maxRows, c.maxBytes)
			var sizes []int
			for _, ch := range chunks {
				sizes = append(sizes, len(ch))
				n := 0
				for _, r := range ch {
					n += RowBytes(r)
				}
				if n > c.maxBytes {
					t.Errorf("chunk of %d bytes, want ≤ %d", n, c.maxBytes)
				}
			}
			if dropped != c.wantDropped {
				t.Errorf("got %d dropped, want %d", dropped, c.wantDropped)
			}
			if len(sizes) != len(c.wantSizes) {
				t.Fatalf("got chunk sizes %v, want %v", sizes, c.wantSizes)
			}
			for i := range sizes {
				if sizes[i] != c.wantSizes[i] {
					t.Fatalf("got chunk sizes %v, want %v", sizes, c.wantSizes)
				}
			}
		})
	}
}

func TestChunkedResultFitsMessageLimit(t *testing.T) {
	// Escaping can grow a value up to 6x ("\u0001"); the default byte bound
	// must leave room for it under the message limit.
	row := map[string]string{"v": strings.Repeat("\x01", 1000)}
	rows := make([]map[string]string, 2000)
	for i := range rows {
		rows[i] = row
	}
	chunks, _ := Chunk(rows, DefaultChunkRows, DefaultChunkBytes)
	for _, ch := range chunks {
		if _, err := Encode(&Message{Type: TypeResult, Result: &Result{QueryID: "q", Rows: ch}}); err != nil {
			t.Fatalf("got %v, want a chunk that encodes", err)
		}
	}
}

func TestResultTravelsColumnWise(t *testing.T) {
	r := &Result{QueryID: "q", Rows: []map[string]string{{"pid": "4", "name": "cmd.exe"}, {"pid": "8"}, {"extra": "\"x\"\n"}}}
	b, err := Encode(&Message{Type: TypeResult, Result: r})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"type":"result","result":{"query_id":"q","attempt":0,"seq":0,"columns":["extra","name","pid"],"rows":[[null,"cmd.exe","4"],[null,null,"8"],["\"x\"\n",null,null]]}}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Result.Rows
	if len(got) != 3 || len(got[1]) != 1 || got[1]["pid"] != "8" || got[2]["extra"] != "\"x\"\n" || got[0]["name"] != "cmd.exe" {
		t.Errorf("got rows %v, want the three rows back with missing columns absent", got)
	}
}

func TestResultRefusesRaggedRows(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"short row", `{"v":1,"type":"result","result":{"query_id":"q","columns":["a","b"],"rows":[["x"]]}}`, "1 values for 2 columns"},
		{"duplicate column", `{"v":1,"type":"result","result":{"query_id":"q","columns":["a","a"],"rows":[["x","y"]]}}`, "appears twice"},
		{"number value", `{"v":1,"type":"result","result":{"query_id":"q","columns":["a"],"rows":[[1]]}}`, "not a string or null"},
		{"long row", `{"v":1,"type":"result","result":{"query_id":"q","columns":["a"],"rows":[["x","y"]]}}`, "more values than its 1 columns"},
		{"unterminated", `{"v":1,"type":"result","result":{"query_id":"q","columns":["a"],"rows":[["x]]}}`, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Decode([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func BenchmarkResultRoundTrip(b *testing.B) {
	row := map[string]string{}
	for _, c := range []string{"eid", "time", "source", "pid", "entity_id", "name", "path", "cmdline", "cwd", "username", "user_sid",
		"parent_pid", "parent_name", "parent_path", "parent_cmdline", "pe_original_file_name", "sha256", "signature_status", "os_type"} {
		row[c] = "value of " + c
	}
	rows := make([]map[string]string, 500)
	for i := range rows {
		rows[i] = row
	}
	m := &Message{Type: TypeResult, Result: &Result{QueryID: "q", Rows: rows}}
	for b.Loop() {
		enc, err := Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// What Encode writes for a result is what the fast path reads: it must not
// quietly leave every result to encoding/json.
func TestResultFastPathReadsEncodedResults(t *testing.T) {
	r := &Result{QueryID: "q1", Attempt: 2, Seq: 0, Final: true, Status: StatusOK, Stats: &Stats{Rows: 2, Bytes: 99, Chunks: 1, WallMS: 7},
		Rows: []map[string]string{{"path": `C:\Windows\System32\cmd.exe`, "name": "cmd.exe", "cmdline": "\"x\" é\t"}, {"path": "", "name": "y"}}}
	b, err := Encode(&Message{Type: TypeResult, Result: r})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := decodeResult(b)
	if !ok {
		t.Fatalf("fast path declined %s", b)
	}
	if !reflect.DeepEqual(m.Result, r) {
		t.Errorf("got %+v, want %+v", m.Result, r)
	}
}
