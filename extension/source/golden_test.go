package source

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"scsweep/extension/events"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current code")

// fixtureDir holds our own telemetry fixtures, one folder per format.
const fixtureDir = "../../testdata/telemetry"

// golden is what a fixture must import to.
type golden struct {
	Summary Summary             `json:"summary"`
	Rows    []map[string]string `json:"rows"`
}

func importAll(t *testing.T, path, format string) golden {
	t.Helper()
	var g golden
	sum, err := ReadFile(context.Background(), path, format, func(ev *events.Event) error {
		g.Rows = append(g.Rows, ev.Row())
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFile(%s, %s): %v", path, format, err)
	}
	g.Summary = sum
	return g
}

// TestGolden imports every fixture under testdata/telemetry/<format>/ and
// compares the rows and summary with <fixture>.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") {
			continue
		}
		n++
		format := filepath.Base(filepath.Dir(path))
		t.Run(format+"/"+filepath.Base(path), func(t *testing.T) {
			got := importAll(t, path, format)
			if auto := importAll(t, path, "auto"); !reflect.DeepEqual(auto, got) {
				t.Errorf("auto-detected import differs from --format %s", format)
			}
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			gp := path + ".golden"
			if *update {
				if err := os.WriteFile(gp, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gp)
			if err != nil {
				t.Fatalf("%v (run go test ./extension/source -run Golden -update)", err)
			}
			if !bytes.Equal(b, want) {
				var w golden
				if err := json.Unmarshal(want, &w); err != nil {
					t.Fatalf("%s: %v", gp, err)
				}
				diffGolden(t, got, w)
				t.Fatalf("%s differs from the import (review, then -update)", gp)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no fixtures found under %s", fixtureDir)
	}
}

func diffGolden(t *testing.T, got, want golden) {
	t.Helper()
	if !reflect.DeepEqual(got.Summary, want.Summary) {
		t.Errorf("summary: got %+v, want %+v", got.Summary, want.Summary)
	}
	if len(got.Rows) != len(want.Rows) {
		t.Errorf("rows: got %d, want %d", len(got.Rows), len(want.Rows))
		return
	}
	for i := range got.Rows {
		for k, v := range want.Rows[i] {
			if got.Rows[i][k] != v {
				t.Errorf("row %d %s: got %q, want %q", i, k, got.Rows[i][k], v)
			}
		}
	}
}
