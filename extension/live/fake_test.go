package live

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"scsweep/extension/events"
	"scsweep/extension/ingest"
)

// fakeLog is an Event Log of a few channels held in memory. Its bookmarks
// are "rid:N", the record id of the last event delivered, as a real
// bookmark names the record it points after.
type fakeLog struct {
	mu       sync.Mutex
	channels map[string][]string // channel → event XML, record id = index+1
	probe    map[string]error
	audit    Audit
	auditErr error
	// nextErrs fails the n-th call of Next (counted over all subscriptions).
	nextErrs map[int]error
	nexts    int
	// subscribed records each Subscribe's bookmark.
	subscribed []string
	// idle receives a channel's name whenever Next finds nothing left: every
	// batch before has been written and its bookmark saved.
	idle chan string
}

func newFakeLog() *fakeLog {
	return &fakeLog{channels: map[string][]string{}, probe: map[string]error{}, nextErrs: map[int]error{}, idle: make(chan string, 100)}
}

func (f *fakeLog) add(channel string, xml ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[channel] = append(f.channels[channel], xml...)
}

func (f *fakeLog) Probe(channel string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.probe[channel]; ok {
		return err
	}
	if _, ok := f.channels[channel]; !ok {
		return errors.New("channel not found")
	}
	return nil
}

func (f *fakeLog) Audit() (Audit, error) { return f.audit, f.auditErr }

func (f *fakeLog) Subscribe(channel, query, bookmark string) (Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribed = append(f.subscribed, bookmark)
	pos := 0
	if bookmark != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(bookmark, "rid:"))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", bookmark, ErrBadBookmark)
		}
		pos = n
	}
	return &fakeSub{log: f, channel: channel, pos: pos}, nil
}

type fakeSub struct {
	log     *fakeLog
	channel string
	pos     int
}

func (s *fakeSub) Next(max int, wait time.Duration) (Batch, error) {
	f := s.log
	f.mu.Lock()
	f.nexts++
	if err := f.nextErrs[f.nexts]; err != nil {
		f.mu.Unlock()
		return Batch{}, err
	}
	recs := f.channels[s.channel]
	var b Batch
	for s.pos < len(recs) && len(b.Events) < max {
		b.Events = append(b.Events, []byte(recs[s.pos]))
		s.pos++
	}
	f.mu.Unlock()
	if len(b.Events) == 0 {
		select {
		case f.idle <- s.channel:
		default:
		}
		time.Sleep(wait)
		return b, nil
	}
	b.Bookmark = "rid:" + strconv.Itoa(s.pos)
	return b, nil
}

func (s *fakeSub) Close() error { return nil }

// fakeTrace is a kernel session that delivers its records, then waits for
// the end.
type fakeTrace struct {
	probeErr error
	records  []KernelRecord
	drives   map[string]string
	runs     int
	runErrs  []error // returned by the first runs, before delivering
	sent     chan struct{}
}

func (f *fakeTrace) Probe() error                       { return f.probeErr }
func (f *fakeTrace) Drives() (map[string]string, error) { return f.drives, nil }

func (f *fakeTrace) Run(ctx context.Context, fn func(KernelRecord)) error {
	f.runs++
	if f.runs <= len(f.runErrs) {
		return f.runErrs[f.runs-1]
	}
	for _, r := range f.records {
		fn(r)
	}
	close(f.sent)
	<-ctx.Done()
	return ctx.Err()
}

// testStore is a real event store in a temporary directory.
func testStore(t *testing.T) *events.Store {
	t.Helper()
	s, err := events.Open(filepath.Join(t.TempDir(), "events.db"), events.Options{MaxAge: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sleeps records the backoff delays instead of waiting them.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newCollector(t *testing.T, log EventLog, trace KernelTrace, store *events.Store, sl *sleeps) *Collector {
	t.Helper()
	p := &ingest.Pipeline{Store: store}
	return New(Config{
		Log: log, Trace: trace, Store: store, Write: p.Write,
		Logf:  t.Logf,
		Sleep: sl.sleep,
		Wait:  time.Millisecond, BatchSize: 2,
	})
}

// sysmonXML is a Sysmon Event ID 1 as EvtRender renders it.
func sysmonXML(rid int, image, parent string) string {
	return fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2024-02-24T10:15:%02d.4412307Z'/><EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='3100' ThreadID='4012'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>sc-srv03.corp.example</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'>-</Data><Data Name='UtcTime'>2024-02-24 10:15:%02d.441</Data><Data Name='ProcessGuid'>{6f1c8d2e-4b0a-65d9-%04x-000000002a00}</Data><Data Name='ProcessId'>%d</Data><Data Name='Image'>%s</Data><Data Name='CommandLine'>cmd.exe /c whoami</Data><Data Name='CurrentDirectory'>C:\Windows\system32\</Data><Data Name='User'>NT AUTHORITY\SYSTEM</Data><Data Name='IntegrityLevel'>System</Data><Data Name='Hashes'>SHA256=B99D61D874728EDC0918CA0EB10EAB93D381E7367E377406E65963366C874450</Data><Data Name='ParentProcessGuid'>{6f1c8d2e-4b0a-65d9-0100-000000002a00}</Data><Data Name='ParentProcessId'>2816</Data><Data Name='ParentImage'>%s</Data><Data Name='ParentCommandLine'>"%s"</Data><Data Name='ParentUser'>NT AUTHORITY\SYSTEM</Data></EventData></Event>`,
		rid%60, rid, rid%60, rid, 6000+rid, image, parent, parent)
}

// security4688XML is a Security 4688 with its command line.
func security4688XML(rid int) string {
	return fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='2024-02-24T10:16:%02d.0000000Z'/><EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='88'/><Channel>Security</Channel><Computer>sc-srv03.corp.example</Computer><Security/></System><EventData><Data Name='SubjectUserSid'>S-1-5-18</Data><Data Name='SubjectUserName'>SC-SRV03$</Data><Data Name='SubjectDomainName'>CORP</Data><Data Name='SubjectLogonId'>0x3e7</Data><Data Name='NewProcessId'>0x%x</Data><Data Name='NewProcessName'>C:\Windows\System32\cmd.exe</Data><Data Name='TokenElevationType'>%%%%1936</Data><Data Name='ProcessId'>0xb00</Data><Data Name='CommandLine'>cmd.exe /c net user</Data><Data Name='TargetUserSid'>S-1-0-0</Data><Data Name='TargetUserName'>-</Data><Data Name='TargetDomainName'>-</Data><Data Name='TargetLogonId'>0x0</Data><Data Name='ParentProcessName'>C:\Program Files (x86)\ScreenConnect\ScreenConnect.Service.exe</Data><Data Name='MandatoryLabel'>S-1-16-16384</Data></EventData></Event>`,
		rid%60, rid, 0x1000+rid)
}
