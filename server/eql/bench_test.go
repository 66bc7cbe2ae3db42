package eql

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// benchRows builds n distinct rows of process_lineage_events as a sweep
// receives them: every column present (empty when the source lacked it),
// every value its own string. About 1 in 50 has ScreenConnect's service as
// parent.
func benchRows(n int) []map[string]string {
	r := rand.New(rand.NewPCG(42, 42))
	names := []string{"svchost.exe", "cmd.exe", "powershell.exe", "conhost.exe", "chrome.exe", "csc.exe", "RuntimeBroker.exe", "taskhostw.exe", "MsMpEng.exe", "explorer.exe"}
	parents := []string{"services.exe", "explorer.exe", "svchost.exe", "userinit.exe", "ScreenConnect.ClientService.exe", "WmiPrvSE.exe"}
	cmdlines := []string{
		`C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`,
		`"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --field-trial-handle=1234`,
		`powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\scripts\backup.ps1`,
		`cmd.exe /c echo hello > C:\temp\out.txt`,
		`C:\Windows\Microsoft.NET\Framework64\v4.0.30319\csc.exe /noconfig /fullpaths @"C:\Users\x\AppData\Local\Temp\abc.cmdline"`,
	}
	rows := make([]map[string]string, n)
	for i := range rows {
		parent := parents[r.IntN(len(parents))]
		if r.IntN(50) == 0 {
			parent = "ScreenConnect.Service.exe"
		}
		name := names[r.IntN(len(names))]
		vals := map[string]string{
			"eid": strconv.Itoa(i), "time": strconv.Itoa(1700000000 + i), "source": "sysmon",
			"pid": strconv.Itoa(1000 + r.IntN(60000)), "name": name, "path": `C:\Windows\System32\` + name,
			"cmdline": cmdlines[r.IntN(len(cmdlines))], "username": `NT AUTHORITY\SYSTEM`, "user_sid": "S-1-5-18",
			"parent_pid": strconv.Itoa(r.IntN(60000)), "parent_name": parent, "parent_path": `C:\Program Files\` + parent,
			"pe_original_file_name": name, "sha256": fmt.Sprintf("%064x", r.Uint64()),
			"signature_status": "trusted", "signature_trusted": "1", "os_type": "windows",
		}
		row := make(map[string]string, len(table.Columns))
		for _, c := range table.Columns {
			row[c.Name] = strings.Clone(vals[c.Name])
		}
		rows[i] = row
	}
	return rows
}

// benchEvents is benchRows turned into ECS documents by the table's own
// row → document conversion.
func benchEvents(n int) []map[string]any {
	rows := benchRows(n)
	evs := make([]map[string]any, n)
	for i, row := range rows {
		evs[i] = table.ECSDocument(row)
	}
	return evs
}

const eventsPerOp = 1_000_000

// benchRule evaluates q over 1M events per op, cycling through a pool of
// distinct events: the 1k pool stays in cache, as an event does when it
// is evaluated right after decoding; the 32k pool does not. Events are ECS
// documents (Query.Match) or the rows they come from (RowQuery.Match, what
// a sweep evaluates).
func benchRule(b *testing.B, src string) {
	q := MustCompile(src, Options{})
	rq, err := q.ForTable(table)
	if err != nil {
		b.Fatal(err)
	}
	for _, pool := range []int{1 << 10, 1 << 15} {
		b.Run(fmt.Sprintf("docs/pool=%d", pool), func(b *testing.B) {
			evs := benchEvents(pool)
			benchPool(b, func(i int) bool { return q.Match(evs[i&(pool-1)]) })
		})
		b.Run(fmt.Sprintf("rows/pool=%d", pool), func(b *testing.B) {
			rows := benchRows(pool)
			benchPool(b, func(i int) bool { return rq.Match(rows[i&(pool-1)]) })
		})
	}
}

func benchPool(b *testing.B, match func(i int) bool) {
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		for i := 0; i < eventsPerOp; i++ {
			if match(i) {
				matched++
			}
		}
	}
	cpu := cpuTime() - cpu0
	total := float64(eventsPerOp) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds(), "events/cpu-s")
	}
	if matched == 0 {
		b.Fatal("got no matches, want some: the benchmark would not exercise the full rule")
	}
}

func BenchmarkScreenConnectRule(b *testing.B) { benchRule(b, screenConnectQuery) }

func BenchmarkTwentyWildcards(b *testing.B) {
	benchRule(b, `process where process.command_line : (
		"*-enc*", "*downloadstring*", "*invoke-webrequest*", "*net user*/add*", "*iex(*",
		"*frombase64string*", "*bitsadmin*", "*certutil*-urlcache*", "*\\temp\\*.ps1", "*mshta*http*",
		"*rundll32*javascript*", "*regsvr32*/i:http*", "*sc*create*", "*schtasks*/create*", "*wmic*process*call*",
		"*vssadmin*delete*", "*csc.exe*/out:*", "*ScreenConnect*\\App_Extensions\\*", "*whoami*/priv*", "*echo hello*")`)
}

func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(screenConnectQuery, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRowToDocumentAndMatch is what a sweep paid per row before rows
// were evaluated directly: the document built, then matched.
func BenchmarkRowToDocumentAndMatch(b *testing.B) {
	q := MustCompile(screenConnectQuery, Options{})
	rows := benchRows(1 << 15)
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		q.Match(table.ECSDocument(rows[i&(len(rows)-1)]))
		i++
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}
