package hostsim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"scsweep/server/hunt"
	"scsweep/server/rules"
	"scsweep/server/sweep"
)

// rss returns the process's resident set in bytes (Linux; 0 elsewhere).
func rss() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// settledMem collects garbage and returns freed pages to the OS first, so
// the figures are what the process holds, not what it has yet to give back.
func settledMem() (heapAndStacks, resident float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if os.Getenv("MEMDEBUG") != "" {
		fmt.Fprintf(os.Stderr, "heap_inuse=%d stack_inuse=%d goroutines=%d rss=%.0f\n", m.HeapInuse, m.StackInuse, runtime.NumGoroutine(), rss())
	}
	return float64(m.HeapInuse + m.StackInuse), rss()
}

// BenchmarkSweep pushes the rule's push-down query to every simulated host
// and waits until every host's rows are stored: one op is one sweep.
// Agents and sweeper share this process, so the per-host memory figures
// count both ends of each connection; BenchmarkHubOnly separates them.
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			sw := startSweeper(b)
			heap0, rss0 := settledMem()
			sw.sim(b, n, 50, nil)
			for sw.hub.Connected() < n {
				time.Sleep(10 * time.Millisecond)
			}
			heap1, rss1 := settledMem()
			rows := 0
			for b.Loop() {
				pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: ruleSQL, Timeout: time.Minute}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if pr.Rows != 5*n || pr.Failed != 0 {
					b.Fatalf("got %+v, want %d rows and no failure", pr, 5*n)
				}
				rows += pr.Rows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric((heap1-heap0)/float64(n), "heap+stack-B/host(both-ends)")
			b.ReportMetric((rss1-rss0)/float64(n), "RSS-B/host(both-ends)")
		})
	}
}

// BenchmarkHuntAllRows returns every row and column of every host: the
// rows/s a fleet's answers reach the store at.
func BenchmarkHuntAllRows(b *testing.B) {
	const n, perHost = 200, 500
	sw := startSweeper(b)
	sw.sim(b, n, perHost, nil)
	rows := 0
	for b.Loop() {
		pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: "SELECT * FROM process_lineage_events", Timeout: time.Minute}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if pr.Rows != n*perHost {
			b.Fatalf("got %d rows, want %d", pr.Rows, n*perHost)
		}
		rows += pr.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// childEnv names the environment of the agent process BenchmarkHubOnly starts.
const childEnv = "SCSWEEP_HOSTSIM_CHILD"

// TestFleetProcess is not a test: it is the agent side of BenchmarkHubOnly,
// run in a child process so the sweeper's memory can be measured alone.
func TestFleetProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process for BenchmarkHubOnly")
	}
	var n int
	var url, caFile, secretFile, dir string
	fmt.Sscanf(spec, "%d %s %s %s %s", &n, &url, &caFile, &secretFile, &dir)
	ca, _ := os.ReadFile(caFile)
	secret, _ := os.ReadFile(secretFile)
	// Each host holds a socket; what descriptors remain keep databases open.
	s, err := Start(context.Background(), Config{Hosts: n, RowsPerHost: 50, Dir: dir, URL: url, CAPEM: ca, EnrollSecret: strings.TrimSpace(string(secret)),
		MaxOpenDBs: max(1, openFileLimit()-n-512)})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	s.Stop()
}

// BenchmarkHubOnly runs the agents in a child process and measures the
// sweeper process alone: memory per held connection, and sweep latency
// (push → every host's rows stored) at 1k and 10k hosts. MEMDEBUG=1 prints
// the memory figures; HEAPPROF=FILE writes a heap profile of the idle fleet,
// CPUPROF=FILE a CPU profile of the sweeps.
func BenchmarkHubOnly(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("measures /proc/self/status")
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			if lim := openFileLimit(); lim < n+512 {
				b.Skipf("%d hosts need %d file descriptors per process, the limit is %d (ulimit -n)", n, n+512, lim)
			}
			if os.Getenv("HEAPPROF") != "" {
				runtime.MemProfileRate = 1
			}
			sw := startSweeper(b)
			heap0, rss0 := settledMem()
			start := time.Now()
			child := startChildFleet(b, sw, n)
			connectAll := time.Since(start)
			time.Sleep(time.Second) // presence writes settle
			heap1, rss1 := settledMem()
			selfCPU0, childCPU0 := cpuSeconds("self"), cpuSeconds(child)
			if p := os.Getenv("CPUPROF"); p != "" {
				f, _ := os.Create(p)
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
			if p := os.Getenv("HEAPPROF"); p != "" {
				f, _ := os.Create(p)
				pprof.WriteHeapProfile(f)
				f.Close()
				var sb strings.Builder
				pprof.Lookup("goroutine").WriteTo(&sb, 1)
				os.WriteFile(p+".goroutines", []byte(sb.String()), 0o644)
			}
			rows := 0
			for b.Loop() {
				pr, err := hunt.Run(context.Background(), sw.hub, sw.store, hunt.Request{SQL: ruleSQL, Timeout: 5 * time.Minute}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if pr.Rows != 5*n || pr.Failed != 0 {
					b.Fatalf("got %+v, want %d rows and no failure; %s", pr, 5*n, failures(sw, pr.HuntID))
				}
				rows += pr.Rows
			}
			sweeps := float64(b.N)
			b.ReportMetric((cpuSeconds("self")-selfCPU0)/sweeps, "sweeper-cpu-s/op")
			b.ReportMetric((cpuSeconds(child)-childCPU0)/sweeps, "agents-cpu-s/op")
			_, rss2 := settledMem()
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric((heap1-heap0)/float64(n), "heap+stack-B/conn")
			b.ReportMetric((rss1-rss0)/float64(n), "RSS-B/conn-idle")
			b.ReportMetric((rss2-rss0)/float64(n), "RSS-B/conn-after-sweeps")
			b.ReportMetric(connectAll.Seconds(), "s-to-enroll-all")
		})
	}
}

// startChildFleet starts n agents in a child process against sw, waits until
// every one holds a session, and returns the child's pid for cpuSeconds.
// HOSTSIM_AGENT_CPUS (a taskset CPU list, e.g. "1") pins the child, so the
// sweeper's wall time can be read with the agents kept off its core.
func startChildFleet(b *testing.B, sw *sweeper, n int) (pid string) {
	b.Helper()
	if lim := openFileLimit(); lim < n+512 {
		b.Skipf("%d hosts need %d file descriptors per process, the limit is %d (ulimit -n)", n, n+512, lim)
	}
	dir := b.TempDir()
	name, args := os.Args[0], []string{"-test.run=^TestFleetProcess$", "-test.timeout=0"}
	if cpus := os.Getenv("HOSTSIM_AGENT_CPUS"); cpus != "" {
		name, args = "taskset", append([]string{"-c", cpus, os.Args[0]}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s %s %s %s", childEnv, n, sw.url,
		filepath.Join(sw.dir.Path, "tls/ca.pem"), filepath.Join(sw.dir.Path, "enroll_secret"), dir))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() { stdin.Close(); <-exited })
	for sw.hub.Connected() < n {
		select {
		case <-exited:
			b.Fatal("agent process ended")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return strconv.Itoa(cmd.Process.Pid)
}

// failures describes the first failed answers of a hunt.
func failures(sw *sweeper, huntID string) string {
	answers, err := sw.store.HuntAnswers(context.Background(), huntID)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, a := range answers {
		if a.Status != "ok" && len(out) < 3 {
			out = append(out, a.HostID+": "+a.Status+": "+a.Error)
		}
	}
	return strings.Join(out, "; ")
}

// cpuSeconds returns the user+system CPU time of a process from /proc
// ("self" or a pid); 0 where there is no /proc.
func cpuSeconds(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command: utime and stime are the
	// 12th and 13th, in clock ticks of 1/100 s.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// BenchmarkSweeperSweep runs the bundled ScreenConnect rule's sweep
// (sweep.Sweeper.Sweep: push-down SQL per window group, every host's rows
// converted to ECS and matched, runs, watermarks and alerts stored in one
// transaction) over agents in a child process. One op is one sweep of the
// whole fleet. The clock is fixed and the look-back reaches the simulated
// rows, so every sweep re-finds each host's 5 matches: the overlap path,
// where known alerts are skipped and max_signals caps the new ones. A
// first sweep (first contact, window from the epoch) runs before timing.
// CPUPROF=FILE writes a CPU profile of the timed sweeps.
func BenchmarkSweeperSweep(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads CPU time from /proc")
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			sw := startSweeper(b)
			child := startChildFleet(b, sw, n)
			time.Sleep(time.Second) // presence writes settle
			rs, err := rules.Bundled()
			if err != nil {
				b.Fatal(err)
			}
			r := *rs[0]
			r.Lookback = 400 * 24 * time.Hour
			now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
			s := &sweep.Sweeper{Hub: sw.hub, Store: sw.store, Rules: []*rules.Rule{&r}, Now: func() time.Time { return now },
				QueryTimeout: 5 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ctx := context.Background()
			check := func(res sweep.Result, err error) {
				b.Helper()
				if err != nil {
					b.Fatal(err)
				}
				if res.Answered != n || res.Rows != 5*n || res.Matches != 5*n || len(res.Failed) != 0 {
					b.Fatalf("got %d answered, %d rows, %d matches, %d failed; want %d hosts answering %d rows, all matching",
						res.Answered, res.Rows, res.Matches, len(res.Failed), n, 5*n)
				}
			}
			check(s.Sweep(ctx, &r))
			selfCPU0, childCPU0 := cpuSeconds("self"), cpuSeconds(child)
			if p := os.Getenv("CPUPROF"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					b.Fatal(err)
				}
				pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			rows := 0
			var last sweep.Result
			for b.Loop() {
				res, err := s.Sweep(ctx, &r)
				check(res, err)
				rows += res.Rows
				last = res
			}
			sweeps := float64(b.N)
			b.ReportMetric((cpuSeconds("self")-selfCPU0)/sweeps, "sweeper-cpu-s/op")
			b.ReportMetric((cpuSeconds(child)-childCPU0)/sweeps, "agents-cpu-s/op")
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			// What the sweeper still did after the last host's answer was
			// evaluated: the alert checks, the cap and the store transaction.
			runs, err := sw.store.RuleRuns(ctx, "", r.RuleID, n)
			if err != nil {
				b.Fatal(err)
			}
			var evaluated time.Time
			for _, run := range runs {
				if run.Finished.After(evaluated) {
					evaluated = run.Finished
				}
			}
			b.ReportMetric(last.Finished.Sub(evaluated).Seconds(), "s-after-last-answer")
		})
	}
}
