package eql

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"scsweep/extension/schema/peers"
)

// specQuery is one entry of the Elasticsearch and Endgame EQL suites.
type specQuery struct {
	Name            string  `toml:"name"`
	Query           string  `toml:"query"`
	ExpectedEventID []int64 `toml:"expected_event_ids"`
	CaseSensitive   bool    `toml:"case_sensitive"`
	CaseInsensitive bool    `toml:"case_insensitive"`
}

// suiteOptions are the field names both suites use: the category lives in
// event_type, serial_event_id breaks timestamp ties.
var suiteOptions = Options{CategoryField: "event_type", TimestampField: "timestamp", TiebreakerField: "serial_event_id"}

func loadSuite(t *testing.T, dir string) ([]specQuery, []map[string]any) {
	t.Helper()
	var f struct {
		Queries []specQuery `toml:"queries"`
	}
	if _, err := toml.DecodeFile(peers.Path(t, dir+"/test_queries.toml"), &f); err != nil {
		t.Fatalf("decode %s queries: %v", dir, err)
	}
	raw, err := os.ReadFile(peers.Path(t, dir+"/test_data.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var events []map[string]any
	if err := dec.Decode(&events); err != nil {
		t.Fatalf("decode %s events: %v", dir, err)
	}
	return f.Queries, events
}

// singleEvent tells the suites' sequence, join and sample queries apart.
func singleEvent(q string) bool {
	w := strings.Fields(q)
	if len(w) == 0 {
		return false
	}
	switch w[0] {
	case "sequence", "join", "sample":
		return false
	}
	return true
}

func runIDs(q *Query, events []map[string]any) []int64 {
	ids := []int64{}
	for _, ev := range q.Run(events) {
		v := valueOf(ev["serial_event_id"])
		ids = append(ids, v.i)
	}
	return ids
}

func TestElasticsearchSpecSingleEvent(t *testing.T) {
	queries, events := loadSuite(t, "eql/elasticsearch")
	total, passed := 0, 0
	for _, sq := range queries {
		if !singleEvent(sq.Query) {
			// sequences are refused, by name and position
			_, err := Compile(sq.Query, suiteOptions)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "`sequence`") {
				t.Errorf("%s: got %v, want an unsupported-construct error naming sequence", sq.Name, err)
			}
			continue
		}
		total++
		t.Run(sq.Name, func(t *testing.T) {
			q, err := Compile(sq.Query, suiteOptions)
			if err != nil {
				t.Fatalf("compile %q: %v", sq.Query, err)
			}
			got := runIDs(q, events)
			want := sq.ExpectedEventID
			if want == nil {
				want = []int64{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("query %q: got %v, want %v", sq.Query, got, want)
			}
			passed++
		})
	}
	t.Logf("Elasticsearch spec single-event queries: %d/%d passed", passed, total)
	if total == 0 {
		t.Fatal("got 0 single-event queries, want the suite's")
	}
}
