package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"scsweep/server/datadir"
	"scsweep/server/hostsim"
	"scsweep/server/hub"
	"scsweep/server/store"
)

type fixture struct {
	api   *httptest.Server
	token string
	store *store.Store
}

func newFixture(t *testing.T, hosts int) *fixture {
	t.Helper()
	dir, err := datadir.Open(t.TempDir(), datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(hub.Config{EnrollSecret: dir.EnrollSecret, SigningKey: dir.SigningKey, Store: st, Logger: logger, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ws := httptest.NewUnstartedServer(h)
	ws.TLS = dir.TLSConfig()
	ws.StartTLS()
	handler, err := New(Config{Token: dir.APIToken, Hub: h, Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(handler)
	sim, err := hostsim.Start(context.Background(), hostsim.Config{Hosts: hosts, RowsPerHost: 20, Dir: t.TempDir(),
		URL: "wss://" + ws.Listener.Addr().String() + "/", CAPEM: dir.CAPEM, EnrollSecret: dir.EnrollSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Stop()
		apiSrv.Close()
		h.Close()
		ws.Close()
		st.Close()
	})
	if err := sim.WaitConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	for h.Connected() < hosts {
		time.Sleep(5 * time.Millisecond)
	}
	return &fixture{api: apiSrv, token: dir.APIToken, store: st}
}

func (f *fixture) do(t *testing.T, method, path, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func lines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestHuntStreamsProgressAndStoresRows(t *testing.T) {
	f := newFixture(t, 3)
	resp := f.do(t, "POST", "/api/hunts", f.token, `{"sql":"SELECT eid, name FROM process_lineage_events WHERE name = 'cmd.exe'","timeout":"20s"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	progress := lines(t, resp.Body)
	last := progress[len(progress)-1]
	if last["done"] != true || last["answered"] != 3.0 || last["rows"] != 6.0 || last["failed"] != 0.0 {
		t.Fatalf("got last progress %v, want done with 3 hosts and 6 rows", last)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i]["answered"].(float64) < progress[i-1]["answered"].(float64) {
			t.Errorf("progress went backwards: %v", progress)
		}
	}
	id := last["hunt_id"].(string)
	rows := lines(t, f.do(t, "GET", "/api/hunts/"+id+"/rows", f.token, "").Body)
	if len(rows) != 6 {
		t.Fatalf("got %d rows, want 6", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(fmt.Sprint(r["host.id"]), "sim-") || r["name"] != "cmd.exe" {
			t.Errorf("got row %v, want host.id and the query's columns", r)
		}
	}
	var h Hunt
	if err := json.NewDecoder(f.do(t, "GET", "/api/hunts/"+id, f.token, "").Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "done" || len(h.Hosts) != 3 || h.Hosts[0].Rows != 2 {
		t.Errorf("got hunt %+v, want done with 3 hosts of 2 rows", h)
	}
	hosts := lines(t, f.do(t, "GET", "/api/hosts", f.token, "").Body)
	if len(hosts) != 3 || hosts[0]["online"] != true {
		t.Errorf("got hosts %v, want 3 online", hosts)
	}
}

func TestAPIRefusesWithoutToken(t *testing.T) {
	f := newFixture(t, 1)
	for _, tok := range []string{"", "wrong"} {
		resp := f.do(t, "GET", "/api/hosts", tok, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: got status %d, want 401", tok, resp.StatusCode)
		}
	}
	resp := f.do(t, "POST", "/api/hunts", "wrong", `{"sql":"select 1"}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("hunt with a wrong token: got %d, want 401", resp.StatusCode)
	}
	if hunts := countHunts(t, f.store); hunts != 0 {
		t.Errorf("got %d hunts stored after refused requests, want 0", hunts)
	}
}

func countHunts(t *testing.T, st *store.Store) int {
	t.Helper()
	hunts, err := st.Hunts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(hunts)
}

func TestBadHuntRequests(t *testing.T) {
	f := newFixture(t, 1)
	cases := []struct{ name, body, want string }{
		{"not json", `{`, "hunt request"},
		{"empty sql", `{"sql":"  "}`, "sql is empty"},
		{"unknown field", `{"sql":"select 1","shell":"rm"}`, "unknown field"},
		{"bad timeout", `{"sql":"select 1","timeout":"forever"}`, "timeout"},
		{"timeout too long", `{"sql":"select 1","timeout":"3h"}`, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := f.do(t, "POST", "/api/hunts", f.token, c.body)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
				t.Errorf("got %d %s, want 400 containing %q", resp.StatusCode, b, c.want)
			}
		})
	}
	if resp := f.do(t, "GET", "/api/hunts/nope", f.token, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown hunt: got %d, want 404", resp.StatusCode)
	}
}

func TestCheckLoopback(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8443", true},
		{"[::1]:8443", true},
		{"localhost:1", true},
		{"0.0.0.0:8443", false},
		{":8443", false},
		{"10.0.0.1:80", false},
		{"nonsense", false},
	}
	for _, c := range cases {
		if err := CheckLoopback(c.addr); (err == nil) != c.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}
}
