//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fleet end to end, with the real binaries: a sweeper, three
// standalone agents on our own Sysmon fixtures (a compromised ScreenConnect
// server, a host with only the ScreenConnect client, a clean host), over
// real TLS websockets on loopback and a real SQLite file.

type procs struct {
	t       *testing.T
	bin     string
	mu      sync.Mutex
	running []*exec.Cmd
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"sweeper", "."}, {"scsweep.ext", "../extension"}} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return bin
}

// syncBuf collects a process's output for the test to read while it runs.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (p *procs) start(name string, args ...string) (*exec.Cmd, *syncBuf) {
	p.t.Helper()
	out := &syncBuf{}
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.running = append(p.running, cmd)
	p.mu.Unlock()
	return cmd, out
}

func (p *procs) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.running {
		c.Process.Kill()
		c.Wait()
	}
}

func (p *procs) run(name string, args ...string) string {
	p.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readNDJSON(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out
}

func field(d map[string]any, path string) any {
	var cur any = d
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func TestFleetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	p := &procs{t: t, bin: buildBinaries(t)}
	t.Cleanup(p.stopAll)
	work := t.TempDir()
	data := filepath.Join(work, "sweeper")
	_, swOut := p.start("sweeper", "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--no-schedule", "--verbose")
	urlRE := regexp.MustCompile(`wss://[0-9.:]+`)
	waitFor(t, "the sweeper to listen", func() bool {
		_, err := os.Stat(filepath.Join(data, apiAddrFile))
		return urlRE.MatchString(swOut.String()) && err == nil
	})
	url := urlRE.FindString(swOut.String())

	hosts := map[string]string{"sc-server": "server-compromised.xml", "sc-client": "client-only.xml", "file-server": "clean.xml"}
	startAgent := func(host, secretFile string) *exec.Cmd {
		args := []string{"serve", "--standalone", "--sweeper", url,
			"--enroll-secret-file", secretFile, "--ca-file", filepath.Join(data, "tls", "ca.pem"),
			"--host-identifier", host, "--events-db", filepath.Join(work, host, "events.db")}
		if host == "sc-server" {
			// The server's own files, as CVE-2024-1709 leaves them.
			args = append(args, "--screenconnect-root", filepath.Join("..", "testdata", "screenconnect", "cve-2024-1709"))
		}
		cmd, _ := p.start("scsweep.ext", args...)
		return cmd
	}
	agents := map[string]*exec.Cmd{}
	for host, fixture := range hosts {
		p.run("scsweep.ext", "import", "--events-db", filepath.Join(work, host, "events.db"), filepath.Join("..", "testdata", "fleet", fixture))
		agents[host] = startAgent(host, filepath.Join(data, "enroll_secret"))
	}
	online := func(want int) func() bool {
		return func() bool {
			n := 0
			for _, h := range readNDJSON(t, p.run("sweeper", "hosts", "--json", "--data-dir", data)) {
				if h["online"] == true {
					n++
				}
			}
			return n == want
		}
	}
	waitFor(t, "three hosts online", online(3))
	// A window ends at the start of the current second (exclusive), so an
	// event stored in this second belongs to the next sweep: let it pass.
	time.Sleep(1100 * time.Millisecond)

	sweep := func() map[string]any {
		t.Helper()
		res := readNDJSON(t, p.run("sweeper", "sweep", "--json", "--data-dir", data))
		if len(res) != 1 {
			t.Fatalf("sweep: got %d results, want 1 (one rule)", len(res))
		}
		return res[0]
	}
	first := sweep()
	if first["hosts"] != 3.0 || first["answered"] != 3.0 || first["matches"] != 2.0 || first["created"] != 2.0 {
		t.Fatalf("first sweep: got %v, want 3 hosts answering, 2 matches, 2 new alerts", first)
	}
	second := sweep()
	if second["answered"] != 3.0 || second["created"] != 0.0 {
		t.Fatalf("second sweep: got %v, want 3 answers and no new alert", second)
	}
	alerts := readNDJSON(t, p.run("sweeper", "alerts", "--json", "--data-dir", data))
	if len(alerts) != 2 {
		t.Fatalf("alerts: got %d, want 2", len(alerts))
	}
	names := map[string]bool{}
	for _, a := range alerts {
		if field(a, "host.id") != "sc-server" || field(a, "process.parent.name") != "ScreenConnect.Service.exe" {
			t.Fatalf("alert on the wrong host or parent: %v", a)
		}
		names[fmt.Sprint(field(a, "process.name"))+"/"+fmt.Sprint(field(a, "process.pe.original_file_name"))] = true
	}
	if !names["cmd.exe/Cmd.Exe"] || !names["notepad.exe/PowerShell.EXE"] {
		t.Fatalf("alerted processes: got %v, want cmd.exe and the renamed PowerShell", names)
	}
	// Each alert keeps the guide's evidence from the host.
	for _, a := range alerts {
		for path, want := range map[string]any{
			"scsweep.evidence.siblings.count":             2.0, // both children of the one service process
			"scsweep.evidence.screenconnect_admins.count": 2.0,
		} {
			if got := field(a, path); got != want {
				t.Errorf("alert %v: %s = %v, want %v", field(a, "process.name"), path, got, want)
			}
		}
		servers, _ := field(a, "scsweep.evidence.screenconnect_servers.rows").([]any)
		if len(servers) != 1 || field(servers[0].(map[string]any), "vulnerable") != "1" {
			t.Errorf("evidence of the server install: got %v, want one vulnerable server", servers)
		}
		if field(a, "scsweep.evidence.network.error") == nil {
			t.Errorf("network evidence: standalone hosts have no process_open_sockets, want its error recorded, got %v", field(a, "scsweep.evidence.network"))
		}
	}

	// A new start lands on the server while its agent is down and a sweep is
	// waiting; the agent comes back during the sweep and nothing is lost.
	srv := agents["sc-server"]
	srv.Process.Kill()
	srv.Wait()
	waitFor(t, "the server host offline", online(2))
	late := filepath.Join(work, "late.xml")
	b, _ := os.ReadFile(filepath.Join("..", "testdata", "fleet", "server-compromised.xml"))
	line := strings.SplitN(string(b), "\n", 2)[0]
	line = strings.Replace(line, "<EventRecordID>48211</EventRecordID>", "<EventRecordID>48999</EventRecordID>", 1)
	line = strings.Replace(line, "{7f3c2a10-0f2f-65d6-4a03-000000001c00}", "{7f3c2a10-0f2f-65d6-4a03-00000000ffff}", 1)
	os.WriteFile(late, []byte(line+"\n"), 0o600)
	p.run("scsweep.ext", "import", "--events-db", filepath.Join(work, "sc-server", "events.db"), late)
	time.Sleep(1100 * time.Millisecond) // see above
	result := make(chan map[string]any, 1)
	go func() {
		res := readNDJSON(t, p.run("sweeper", "sweep", "--json", "--data-dir", data))
		result <- res[0]
	}()
	time.Sleep(500 * time.Millisecond) // the sweep is pushed before the host returns
	agents["sc-server"] = startAgent("sc-server", filepath.Join(data, "enroll_secret"))
	third := <-result
	if third["answered"] != 3.0 || third["created"] != 1.0 {
		t.Fatalf("sweep across a restart: got %v, want 3 answers and the 1 new alert", third)
	}

	// A host with a wrong secret is refused and nothing of it is stored.
	bad := filepath.Join(work, "wrong_secret")
	os.WriteFile(bad, []byte("not-the-secret\n"), 0o600)
	startAgent("intruder", bad)
	waitFor(t, "the sweeper to refuse the intruder", func() bool {
		return strings.Contains(swOut.String(), "intruder")
	})
	for _, h := range readNDJSON(t, p.run("sweeper", "hosts", "--json", "--data-dir", data)) {
		if h["host.id"] == "intruder" {
			t.Fatalf("a host with a wrong secret was stored: %v", h)
		}
	}
}
