package live

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"scsweep/extension/events"
	"scsweep/extension/source"
)

const (
	cmdPath = `C:\Windows\System32\cmd.exe`
	scPath  = `C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe`
)

func statusOf(t *testing.T, c *Collector, src string) Status {
	t.Helper()
	for _, s := range c.Status() {
		if s.Source == src {
			return s
		}
	}
	t.Fatalf("no status for %s", src)
	return Status{}
}

func TestChooseSources(t *testing.T) {
	tests := []struct {
		name       string
		sysmon     bool
		security   error // Probe error of the Security channel
		audit      Audit
		auditErr   error
		trace      *fakeTrace
		want       map[string]bool
		wantReason map[string]string
	}{
		{
			name: "sysmon and audited 4688 both run, no ETW", sysmon: true, audit: Audit{true, true}, trace: &fakeTrace{},
			want:       map[string]bool{SourceSysmon: true, SourceSecurity: true, SourceETW: false},
			wantReason: map[string]string{SourceSecurity: "with command lines", SourceETW: "not needed"},
		},
		{
			name: "4688 without command lines is said so", audit: Audit{ProcessCreation: true}, trace: &fakeTrace{},
			want:       map[string]bool{SourceSysmon: false, SourceSecurity: true, SourceETW: false},
			wantReason: map[string]string{SourceSecurity: "without command lines", SourceSysmon: "Sysmon not installed"},
		},
		{
			name: "unknown audit policy still subscribes", auditErr: errors.New("access denied"), trace: &fakeTrace{},
			want:       map[string]bool{SourceSysmon: false, SourceSecurity: true, SourceETW: false},
			wantReason: map[string]string{SourceSecurity: "audit policy unknown: access denied"},
		},
		{
			name: "neither Sysmon nor 4688: ETW", audit: Audit{}, trace: &fakeTrace{},
			want:       map[string]bool{SourceSysmon: false, SourceSecurity: false, SourceETW: true},
			wantReason: map[string]string{SourceSecurity: "Audit Process Creation is off"},
		},
		{
			name: "ETW refused too: nothing", security: errors.New("access denied"), trace: &fakeTrace{probeErr: errors.New("not an administrator")},
			want:       map[string]bool{SourceSysmon: false, SourceSecurity: false, SourceETW: false},
			wantReason: map[string]string{SourceSecurity: "Security log unreadable: access denied", SourceETW: "not an administrator"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := newFakeLog()
			if tc.sysmon {
				log.add(SysmonChannel)
			}
			log.add(SecurityChannel)
			if tc.security != nil {
				log.probe[SecurityChannel] = tc.security
			}
			log.audit, log.auditErr = tc.audit, tc.auditErr
			c := New(Config{Log: log, Trace: tc.trace})
			c.choose()
			for src, want := range tc.want {
				st := statusOf(t, c, src)
				if st.Active != want {
					t.Errorf("%s active: got %v (%s), want %v", src, st.Active, st.Reason, want)
				}
				if r := tc.wantReason[src]; r != "" && !strings.Contains(st.Reason, r) {
					t.Errorf("%s reason: got %q, want it to contain %q", src, st.Reason, r)
				}
			}
		})
	}
}

func TestUnavailableElsewhere(t *testing.T) {
	log, trace, why := Platform()
	c := New(Config{Log: log, Trace: trace, Unavailable: why})
	err := c.Run(context.Background())
	if why == "" {
		t.Skip("this OS has the Windows layers")
	}
	if !errors.Is(err, errNoSource) {
		t.Errorf("Run: got %v, want %v", err, errNoSource)
	}
	for _, s := range c.Status() {
		if s.Active || s.Reason != why {
			t.Errorf("%s: got active %v reason %q, want inactive, %q", s.Source, s.Active, s.Reason, why)
		}
	}
}

// runUntilIdle runs c until every channel of log has delivered all it
// holds, then stops it.
func runUntilIdle(t *testing.T, c *Collector, log *fakeLog, channels ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	idle := map[string]bool{}
	for len(idle) < len(channels) {
		idle[<-log.idle] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func storeEvents(t *testing.T, s *events.Store) map[string]map[string]string {
	t.Helper()
	rows := map[string]map[string]string{}
	if err := s.Rows(context.Background(), events.Filter{}, func(r map[string]string) error {
		rows[r["eid"]] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// A restart resumes after the saved bookmark: the second run reads only
// what came after, and the store holds every event once.
func TestEventLogResumesFromBookmark(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	log.audit = Audit{true, true}
	for i := 1; i <= 5; i++ {
		log.add(SysmonChannel, sysmonXML(i, cmdPath, scPath))
	}
	log.add(SecurityChannel, security4688XML(1))
	sl := &sleeps{}
	c := newCollector(t, log, nil, store, sl)
	runUntilIdle(t, c, log, SysmonChannel, SecurityChannel)

	if got := len(storeEvents(t, store)); got != 6 {
		t.Fatalf("events after the first run: got %d, want 6", got)
	}
	bm, err := store.Get(context.Background(), BookmarkKey(SysmonChannel))
	if err != nil || bm != "rid:5" {
		t.Fatalf("sysmon bookmark: got %q, %v; want rid:5", bm, err)
	}
	if st := statusOf(t, c, SourceSysmon); st.Events != 5 || !st.Active {
		t.Errorf("sysmon status: got %+v, want active with 5 events", st)
	}

	for i := 6; i <= 8; i++ {
		log.add(SysmonChannel, sysmonXML(i, cmdPath, scPath))
	}
	log.subscribed = nil
	c = newCollector(t, log, nil, store, sl)
	runUntilIdle(t, c, log, SysmonChannel, SecurityChannel)
	rows := storeEvents(t, store)
	if len(rows) != 9 {
		t.Fatalf("events after the restart: got %d, want 9", len(rows))
	}
	if st := statusOf(t, c, SourceSysmon); st.Events != 3 {
		t.Errorf("second run wrote %d sysmon events, want 3 (only those after the bookmark)", st.Events)
	}
	var resumed []string
	resumed = append(resumed, log.subscribed...)
	if !reflect.DeepEqual(sortedCopy(resumed), []string{"rid:1", "rid:5"}) {
		t.Errorf("bookmarks subscribed from: got %v, want rid:5 and rid:1", resumed)
	}
	var sources = map[string]int{}
	for _, r := range rows {
		sources[r["source"]]++
		if r["parent_name"] != "ScreenConnect.Service.exe" || r["name"] != "cmd.exe" {
			t.Errorf("row %s: got %s → %s, want ScreenConnect.Service.exe → cmd.exe", r["eid"], r["parent_name"], r["name"])
		}
	}
	if sources[SourceSysmon] != 8 || sources[SourceSecurity] != 1 {
		t.Errorf("rows by source: got %v, want 8 sysmon and 1 security", sources)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

// A failed store write or read resubscribes from the last saved bookmark
// after a growing delay: the batch is delivered again and stored once.
func TestEventLogRetriesWithoutLoss(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	log.audit = Audit{}
	for i := 1; i <= 6; i++ {
		log.add(SysmonChannel, sysmonXML(i, cmdPath, scPath))
	}
	log.nextErrs[2] = errors.New("the RPC server is unavailable")
	log.nextErrs[3] = errors.New("the RPC server is unavailable")
	sl := &sleeps{}
	c := newCollector(t, log, nil, store, sl)
	failed := false
	inner := c.cfg.Write
	c.cfg.Write = func(ctx context.Context, evs []*events.Event) (int, error) {
		if !failed {
			failed = true
			return 0, errors.New("database is locked")
		}
		return inner(ctx, evs)
	}
	runUntilIdle(t, c, log, SysmonChannel)
	if got := len(storeEvents(t, store)); got != 6 {
		t.Errorf("events: got %d, want 6", got)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; len(sl.d) < 2 || !reflect.DeepEqual(sl.d[:2], want) {
		t.Errorf("backoff: got %v, want it to start %v", sl.d, want)
	}
	for _, bm := range log.subscribed[1:] {
		if bm != "" && bm != "rid:2" && bm != "rid:4" {
			t.Errorf("resubscribed from %q, want a saved bookmark", bm)
		}
	}
	if st := statusOf(t, c, SourceSysmon); st.LastErr != "" {
		t.Errorf("last error after recovery: got %q, want none", st.LastErr)
	}
}

// A saved bookmark the Event Log refuses is dropped: the channel is read
// again from its oldest record and the store keeps one copy of each event.
func TestEventLogBadBookmark(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	for i := 1; i <= 3; i++ {
		log.add(SysmonChannel, sysmonXML(i, cmdPath, scPath))
	}
	ctx := context.Background()
	if err := store.Set(ctx, BookmarkKey(SysmonChannel), "<BookmarkList><Bookmark Channel="); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, log, nil, store, &sleeps{})
	runUntilIdle(t, c, log, SysmonChannel)
	if got := len(storeEvents(t, store)); got != 3 {
		t.Errorf("events: got %d, want 3", got)
	}
	if bm, _ := store.Get(ctx, BookmarkKey(SysmonChannel)); bm != "rid:3" {
		t.Errorf("bookmark: got %q, want rid:3", bm)
	}
}

// Sysmon installed while the kernel session runs: the next check of the
// Event Log starts the Sysmon subscription and ends the session.
func TestSourcesChosenAgain(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	log.add(SecurityChannel)
	trace := &fakeTrace{sent: make(chan struct{})}
	c := newCollector(t, log, trace, store, &sleeps{})
	c.cfg.Recheck = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	<-trace.sent
	if st := statusOf(t, c, SourceETW); !st.Active {
		t.Fatalf("etw: got inactive (%s), want active before Sysmon exists", st.Reason)
	}
	log.add(SysmonChannel, sysmonXML(1, cmdPath, scPath))
	<-log.idle
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := statusOf(t, c, SourceETW); st.Active || !strings.Contains(st.Reason, "not needed") {
		t.Errorf("etw after Sysmon appeared: got active %v (%s), want inactive, not needed", st.Active, st.Reason)
	}
	if st := statusOf(t, c, SourceSysmon); !st.Active || st.Events != 1 {
		t.Errorf("sysmon: got %+v, want active with 1 event", st)
	}
}

// Records the XML normalizer refuses are counted, not fatal.
func TestEventLogBadRecords(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	log.add(SysmonChannel, sysmonXML(1, cmdPath, scPath), "<Event><System><EventID>1</Event>",
		strings.Replace(sysmonXML(3, cmdPath, scPath), "<EventID>1</EventID>", "<EventID>5</EventID>", 1), sysmonXML(4, cmdPath, scPath))
	c := newCollector(t, log, nil, store, &sleeps{})
	runUntilIdle(t, c, log, SysmonChannel)
	st := statusOf(t, c, SourceSysmon)
	if st.Events != 2 || st.Skipped != 2 {
		t.Errorf("status: got %d events, %d skipped; want 2 and 2", st.Events, st.Skipped)
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(time.Second, 5*time.Second)
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, b.next())
	}
	b.reset()
	got = append(got, b.next())
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delays: got %v, want %v", got, want)
	}
}

// kernelData builds a ProcessStart user data buffer of the given version.
func kernelData(version uint8, pid, ppid uint32, create uint64, label []byte, image string) []byte {
	le := binary.LittleEndian
	var b []byte
	u32 := func(v uint32) { b = le.AppendUint32(b, v) }
	u64 := func(v uint64) { b = le.AppendUint64(b, v) }
	if version >= 3 {
		u32(pid)
		u64(77) // sequence number
		u64(create)
		u32(ppid)
		u64(76)
		u32(1) // session
		u32(0) // flags
		u32(1) // elevation type
		u32(1) // elevated
		b = append(b, label...)
	} else {
		u32(pid)
		u64(create)
		u32(ppid)
		u32(1)
		if version >= 1 {
			u32(0)
		}
	}
	for _, c := range utf16.Encode([]rune(image)) {
		b = le.AppendUint16(b, c)
	}
	b = append(b, 0, 0)
	if version >= 2 {
		u32(0xdeadbeef) // checksum, timestamp, then empty package names
		u32(0x5f000000)
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// systemLabel is S-1-16-16384 as a binary SID.
var systemLabel = []byte{1, 1, 0, 0, 0, 0, 0, 16, 0x00, 0x40, 0, 0}

func TestParseProcessStart(t *testing.T) {
	const create = filetimeUnixEpoch + 1708769731*10_000_000 + 4412307
	image := `\Device\HarddiskVolume3\Windows\System32\cmd.exe`
	for _, v := range []uint8{0, 1, 2, 3, 4} {
		ps, err := parseProcessStart(v, kernelData(v, 6120, 2816, create, systemLabel, image))
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		want := processStart{PID: 6120, PPID: 2816, Create: create, Session: 1, Image: image}
		if v >= 3 {
			want.Label = "S-1-16-16384"
		}
		if ps != want {
			t.Errorf("v%d: got %+v, want %+v", v, ps, want)
		}
	}
	full := kernelData(3, 1, 2, create, systemLabel, image)
	for _, n := range []int{0, 3, 20, 52, 55} {
		if _, err := parseProcessStart(3, full[:n]); err == nil {
			t.Errorf("v3 cut to %d bytes: got no error, want one", n)
		}
	}
}

func TestKernelEvent(t *testing.T) {
	const create = filetimeUnixEpoch + 1708769731*10_000_000 + 4412307
	drives := map[string]string{`\Device\HarddiskVolume3`: "C:", `\Device\HarddiskVolume30`: "D:"}
	rec := KernelRecord{Version: 3, Data: kernelData(3, 6120, 2816, create, systemLabel, `\Device\HarddiskVolume3\Windows\System32\cmd.exe`),
		CommandLine: "cmd.exe /c " + strings.Repeat("x", 100<<20)}
	ev, err := kernelEvent(rec, drives)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Path != cmdPath || ev.Name != "cmd.exe" || ev.PID != 6120 || ev.ParentPID != 2816 || ev.Time != 1708769731 ||
		ev.IntegrityLevel != "System" || ev.Source != SourceETW || ev.OSType != "windows" {
		t.Errorf("event: got %+v", ev)
	}
	if len(ev.Cmdline) != source.MaxFieldBytes {
		t.Errorf("command line: got %d bytes, want %d", len(ev.Cmdline), source.MaxFieldBytes)
	}
	again, _ := kernelEvent(rec, drives)
	other, _ := kernelEvent(KernelRecord{Version: 3, Data: kernelData(3, 6120, 2816, create+1, systemLabel, `\x`)}, drives)
	if again.EID != ev.EID || other.EID == ev.EID || len(ev.EID) != 32 {
		t.Errorf("eids: %s, again %s, other process %s: want stable and distinct", ev.EID, again.EID, other.EID)
	}
	if got := dosPath(`\Device\HarddiskVolume30\a.exe`, drives); got != `D:\a.exe` {
		t.Errorf("dosPath: got %q, want D:\\a.exe", got)
	}
	if _, err := kernelEvent(KernelRecord{Version: 0, Data: []byte{1, 2}}, drives); err == nil {
		t.Error("short record: got no error, want one")
	}
}

// Without Sysmon or 4688 the kernel session's starts reach the store in
// batches; records it cannot read are counted; a failed start is retried.
func TestETWCollects(t *testing.T) {
	store := testStore(t)
	log := newFakeLog()
	log.add(SecurityChannel)
	const create = filetimeUnixEpoch + 1708769731*10_000_000
	trace := &fakeTrace{
		drives:  map[string]string{`\Device\HarddiskVolume3`: "C:"},
		runErrs: []error{errors.New("no system resources")},
		sent:    make(chan struct{}),
	}
	for i := 0; i < 5; i++ {
		trace.records = append(trace.records, KernelRecord{Version: 2, CommandLine: "cmd.exe /c whoami",
			Data: kernelData(2, uint32(7000+i), 2816, create+uint64(i), nil, `\Device\HarddiskVolume3\Windows\System32\cmd.exe`)})
	}
	trace.records = append(trace.records, KernelRecord{Version: 2, Data: []byte{1}})
	sl := &sleeps{}
	c := newCollector(t, log, trace, store, sl)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	<-trace.sent
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows := storeEvents(t, store)
	if len(rows) != 5 {
		t.Fatalf("events: got %d, want 5", len(rows))
	}
	for _, r := range rows {
		if r["source"] != SourceETW || r["path"] != cmdPath || r["cmdline"] != "cmd.exe /c whoami" {
			t.Errorf("row: got source %q path %q cmdline %q", r["source"], r["path"], r["cmdline"])
		}
	}
	st := statusOf(t, c, SourceETW)
	if !st.Active || st.Events != 5 || st.Skipped != 1 {
		t.Errorf("etw status: got %+v, want active, 5 events, 1 skipped", st)
	}
	if len(sl.d) != 1 || sl.d[0] != time.Second {
		t.Errorf("backoff after the failed start: got %v, want [1s]", sl.d)
	}
}
