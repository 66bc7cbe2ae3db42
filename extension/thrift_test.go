//go:build !windows

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/osquery/osquery-go/gen/osquery"
	"github.com/osquery/osquery-go/transport"

	"scsweep/extension/events"
	"scsweep/extension/schema"
)

// extBinary is the real scsweep.ext, built once for the tests that talk to
// it as osqueryd does.
var extBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scsweep-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	extBinary = filepath.Join(dir, "scsweep.ext")
	out, err := exec.Command("go", "build", "-o", extBinary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building scsweep.ext: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeOsqueryd is osquery-go's generated ExtensionManager server standing in
// for osqueryd: it records what the extension registers.
type fakeOsqueryd struct {
	mu           sync.Mutex
	info         *osquery.InternalExtensionInfo
	registry     osquery.ExtensionRegistry
	registered   chan struct{}
	deregistered chan struct{}
	// query answers the Query call when set: what osqueryd's SQL engine
	// would return.
	query   func(sql string) ([]map[string]string, error)
	queries int
}

const fakeUUID = 7

func (f *fakeOsqueryd) Ping(context.Context) (*osquery.ExtensionStatus, error) {
	return &osquery.ExtensionStatus{Code: 0, Message: "OK"}, nil
}
func (f *fakeOsqueryd) Call(context.Context, string, string, osquery.ExtensionPluginRequest) (*osquery.ExtensionResponse, error) {
	return &osquery.ExtensionResponse{Status: &osquery.ExtensionStatus{Code: 1, Message: "not a plugin"}}, nil
}
func (f *fakeOsqueryd) Shutdown(context.Context) error { return nil }
func (f *fakeOsqueryd) Extensions(context.Context) (osquery.InternalExtensionList, error) {
	return osquery.InternalExtensionList{}, nil
}
func (f *fakeOsqueryd) Options(context.Context) (osquery.InternalOptionList, error) {
	return osquery.InternalOptionList{}, nil
}
func (f *fakeOsqueryd) RegisterExtension(_ context.Context, info *osquery.InternalExtensionInfo, reg osquery.ExtensionRegistry) (*osquery.ExtensionStatus, error) {
	f.mu.Lock()
	f.info, f.registry = info, reg
	f.mu.Unlock()
	close(f.registered)
	return &osquery.ExtensionStatus{Code: 0, Message: "OK", UUID: fakeUUID}, nil
}
func (f *fakeOsqueryd) DeregisterExtension(_ context.Context, uuid osquery.ExtensionRouteUUID) (*osquery.ExtensionStatus, error) {
	if uuid == fakeUUID {
		close(f.deregistered)
	}
	return &osquery.ExtensionStatus{Code: 0, Message: "OK"}, nil
}

// answer makes Query answer with fn.
func (f *fakeOsqueryd) answer(fn func(sql string) ([]map[string]string, error)) {
	f.mu.Lock()
	f.query = fn
	f.mu.Unlock()
}

func (f *fakeOsqueryd) Query(_ context.Context, sql string) (*osquery.ExtensionResponse, error) {
	f.mu.Lock()
	f.queries++
	q := f.query
	f.mu.Unlock()
	if q == nil {
		return &osquery.ExtensionResponse{Status: &osquery.ExtensionStatus{Code: 1, Message: "no SQL here"}}, nil
	}
	rows, err := q(sql)
	if err != nil {
		return &osquery.ExtensionResponse{Status: &osquery.ExtensionStatus{Code: 1, Message: err.Error()}}, nil
	}
	return &osquery.ExtensionResponse{Status: &osquery.ExtensionStatus{Code: 0, Message: "OK"}, Response: rows}, nil
}
func (f *fakeOsqueryd) GetQueryColumns(context.Context, string) (*osquery.ExtensionResponse, error) {
	return &osquery.ExtensionResponse{Status: &osquery.ExtensionStatus{Code: 1, Message: "no SQL here"}}, nil
}

func startFakeOsqueryd(t testing.TB, sock string) *fakeOsqueryd {
	t.Helper()
	f := &fakeOsqueryd{registered: make(chan struct{}), deregistered: make(chan struct{})}
	st, err := transport.OpenServer(sock, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv := thrift.NewTSimpleServer4(osquery.NewExtensionManagerProcessor(f), st,
		thrift.NewTTransportFactory(), thrift.NewTBinaryProtocolFactoryConf(nil))
	go srv.Serve()
	t.Cleanup(func() { srv.Stop() })
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return f
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fake osqueryd socket %s never appeared", sock)
	return nil
}

// shortDir is a temp dir whose socket paths fit osquery's 97-byte limit.
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func seedStore(t testing.TB, path string, evs []*events.Event) {
	t.Helper()
	s, err := events.Open(path, events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// constraintContext renders a query context the way osqueryd does: every
// column listed, "" for a column without constraints.
func constraintContext(cons map[string][][2]string) string {
	type item struct {
		Op   int    `json:"op"`
		Expr string `json:"expr"`
	}
	type entry struct {
		Name     string `json:"name"`
		List     any    `json:"list"`
		Affinity string `json:"affinity"`
	}
	var out struct {
		Constraints []entry  `json:"constraints"`
		ColsUsed    []string `json:"colsUsed"`
	}
	for _, c := range schema.ProcessLineageEvents.Columns {
		e := entry{Name: c.Name, List: "", Affinity: string(c.Type)}
		if cs, ok := cons[c.Name]; ok {
			var items []item
			for _, op := range cs {
				n, _ := strconv.Atoi(op[0])
				items = append(items, item{Op: n, Expr: op[1]})
			}
			e.List = items
		}
		out.Constraints = append(out.Constraints, e)
		out.ColsUsed = append(out.ColsUsed, c.Name)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

type extension struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	client *osquery.ExtensionClient
	trans  thrift.TTransport
	done   chan error
}

// startExtension runs the real binary the way osqueryd autoloads it.
func startExtension(t testing.TB, sock, eventsDB string) (*extension, *fakeOsqueryd) {
	t.Helper()
	f := startFakeOsqueryd(t, sock)
	// An empty config file: the defaults, not whatever /etc holds.
	cfg := filepath.Join(t.TempDir(), "scsweep.conf")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(extBinary, "--socket", sock, "--timeout", "3", "--interval", "3", "--verbose",
		"--events-db", eventsDB, "--config", cfg)
	e := &extension{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-f.registered:
	case err := <-e.done:
		t.Fatalf("extension exited before registering: %v\n%s", err, e.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("extension never registered\n%s", e.stderr)
	}
	trans, err := transport.Open(fmt.Sprintf("%s.%d", sock, fakeUUID), 10*time.Second)
	if err != nil {
		t.Fatalf("connecting to the extension: %v\n%s", err, e.stderr)
	}
	// osqueryd wraps its extension sockets in a buffered transport too.
	e.trans = thrift.NewTBufferedTransport(trans, 64<<10)
	e.client = osquery.NewExtensionClientFactory(e.trans, thrift.NewTBinaryProtocolFactoryConf(nil))
	return e, f
}

func (e *extension) generate(t testing.TB, tableName, ctxJSON string) []map[string]string {
	t.Helper()
	resp, err := e.client.Call(context.Background(), "table", tableName,
		osquery.ExtensionPluginRequest{"action": "generate", "context": ctxJSON})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if resp.Status.Code != 0 {
		t.Fatalf("generate status %d: %s", resp.Status.Code, resp.Status.Message)
	}
	return resp.Response
}

func TestThriftConformance(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "osquery.em")
	db := filepath.Join(t.TempDir(), "events.db")
	// Recent events: the extension applies retention (30 days) on start.
	base := time.Now().Add(-time.Hour).Unix()
	at := func(i int) string { return strconv.FormatInt(base+int64(i), 10) }
	var evs []*events.Event
	for i := 0; i < 50; i++ {
		e := &events.Event{EID: fmt.Sprintf("e%03d", i), Time: base + int64(i), Source: "sysmon",
			PID: int64(100 + i), HasPID: true, Name: "svchost.exe", ParentName: "services.exe", OSType: "windows"}
		if i%10 == 0 {
			e.Name, e.ParentName, e.PEOriginalFileName = "cmd.exe", "ScreenConnect.Service.exe", "Cmd.Exe"
		}
		evs = append(evs, e)
	}
	seedStore(t, db, evs)
	ext, f := startExtension(t, sock, db)

	// Registration: name, and every table with its columns as routes.
	f.mu.Lock()
	if f.info.Name != "scsweep" {
		t.Errorf("extension name: got %q, want scsweep", f.info.Name)
	}
	routes := f.registry["table"]
	f.mu.Unlock()
	for _, tbl := range schema.Tables() {
		got, ok := routes[tbl.Name]
		if !ok {
			t.Errorf("table %s not registered", tbl.Name)
			continue
		}
		if len(got) != len(tbl.Columns) {
			t.Errorf("%s: got %d column routes, want %d", tbl.Name, len(got), len(tbl.Columns))
			continue
		}
		for i, c := range tbl.Columns {
			r := got[i]
			if r["id"] != "column" || r["name"] != c.Name || r["type"] != string(c.Type) {
				t.Errorf("%s route %d: got %v, want column %s %s", tbl.Name, i, r, c.Name, c.Type)
			}
			wantOp := "0"
			if c.Pushdown {
				wantOp = "1" // INDEX
			}
			if r["op"] != wantOp {
				t.Errorf("%s.%s options: got %s, want %s", tbl.Name, c.Name, r["op"], wantOp)
			}
		}
	}

	cases := []struct {
		name string
		cons map[string][][2]string
		want []string
	}{
		{"no constraints", nil, nil},
		{"time range", map[string][][2]string{"time": {{"32", at(10)}, {"16", at(13)}}}, []string{"e010", "e011", "e012"}},
		{"parent name like", map[string][][2]string{"parent_name": {{"65", "screenconnect.service.exe"}}}, []string{"e000", "e010", "e020", "e030", "e040"}},
		{"eid equals", map[string][][2]string{"eid": {{"2", "e007"}}}, []string{"e007"}},
		{"pid in", map[string][][2]string{"pid": {{"2", "101"}, {"2", "103"}}}, []string{"e001", "e003"}},
		{"name equals", map[string][][2]string{"name": {{"2", "cmd.exe"}}, "time": {{"4", at(30)}}}, []string{"e040"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := ext.generate(t, "process_lineage_events", constraintContext(tc.cons))
			var got []string
			for _, r := range rows {
				got = append(got, r["eid"])
				if len(r) != len(schema.ProcessLineageEvents.Columns) {
					t.Fatalf("row has %d columns, want %d", len(r), len(schema.ProcessLineageEvents.Columns))
				}
			}
			sort.Strings(got)
			if tc.want == nil {
				if len(got) != 50 {
					t.Fatalf("got %d rows, want 50", len(got))
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// The columns action answers with the same routes.
	resp, err := ext.client.Call(context.Background(), "table", "process_lineage_events", osquery.ExtensionPluginRequest{"action": "columns"})
	if err != nil || resp.Status.Code != 0 || len(resp.Response) != len(schema.ProcessLineageEvents.Columns) {
		t.Fatalf("columns action: %v %+v", err, resp)
	}

	// A bad context is an error status, not a crash.
	resp, err = ext.client.Call(context.Background(), "table", "process_lineage_events", osquery.ExtensionPluginRequest{"action": "generate", "context": "{not json"})
	if err != nil || resp.Status.Code == 0 {
		t.Fatalf("bad context: got %v %+v, want an error status", err, resp.Status)
	}

	// osqueryd shuts the extension down: it deregisters and exits cleanly.
	if err := ext.client.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case <-f.deregistered:
	case <-time.After(30 * time.Second):
		t.Fatalf("extension did not deregister\n%s", ext.stderr)
	}
	select {
	case err := <-ext.done:
		if err != nil {
			t.Fatalf("extension exit: %v\n%s", err, ext.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("extension did not exit after shutdown\n%s", ext.stderr)
	}
}
