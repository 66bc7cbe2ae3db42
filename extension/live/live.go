// Package live collects process starts on a Windows host as they happen
// and writes them to the event store: Sysmon Event ID 1 and Security 4688
// from the Event Log, each subscription resuming from a bookmark kept in
// the store, and, only where neither is available, process starts from a
// real-time ETW session on Microsoft-Windows-Kernel-Process.
//
// Every Windows call sits behind two small interfaces, EventLog and
// KernelTrace, implemented in the _windows.go files. Everything else —
// choosing sources, turning rendered event XML into rows through package
// source, bookmark handling, retry with backoff, parsing the kernel's
// process start records and batching into ingest — is plain Go, tested
// with fakes of those interfaces on any OS.
package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"scsweep/extension/events"
)

// Source names, as the source column and the status table give them.
const (
	SourceSysmon   = "sysmon"
	SourceSecurity = "security"
	SourceETW      = "etw"
)

// Event Log channels and the queries that select process starts.
const (
	SysmonChannel   = "Microsoft-Windows-Sysmon/Operational"
	SecurityChannel = "Security"
	sysmonQuery     = "*[System[(EventID=1)]]"
	securityQuery   = "*[System[(EventID=4688)]]"
)

// EventLog is the thin layer over the Windows Event Log API (wevtapi).
type EventLog interface {
	// Probe returns nil when channel exists and can be read, else why not.
	Probe(channel string) error
	// Audit says whether the audit policy records process creation (4688)
	// and whether 4688 carries the command line.
	Audit() (Audit, error)
	// Subscribe opens a pull subscription to the events of channel that
	// match query (XPath), starting after bookmark (bookmark XML) when one
	// is given and at the oldest record in the log otherwise. A bookmark the
	// Event Log cannot read gives an error wrapping ErrBadBookmark.
	Subscribe(channel, query, bookmark string) (Subscription, error)
}

// ErrBadBookmark is a saved bookmark the Event Log refuses.
var ErrBadBookmark = errors.New("bookmark not readable")

// Audit is the part of the audit policy 4688 depends on.
type Audit struct {
	ProcessCreation bool // "Audit Process Creation" records successes
	CommandLine     bool // ProcessCreationIncludeCmdLine_Enabled
}

// Subscription delivers the events of one subscription.
type Subscription interface {
	// Next waits up to wait for events and returns at most max of them,
	// rendered as event XML (UTF-8), with the bookmark XML that points
	// after the last one. On timeout it returns an empty Batch.
	Next(max int, wait time.Duration) (Batch, error)
	Close() error
}

// Batch is what one Next returns.
type Batch struct {
	Events   [][]byte
	Bookmark string
}

// KernelTrace is the thin layer over a real-time ETW session on
// Microsoft-Windows-Kernel-Process.
type KernelTrace interface {
	// Probe returns nil when a session can be started, else why not.
	Probe() error
	// Run starts the session and calls fn, from one goroutine, for every
	// process start (event 1) until ctx ends or the session fails.
	Run(ctx context.Context, fn func(KernelRecord)) error
	// Drives maps NT device names (\Device\HarddiskVolume3) to drive
	// letters (C:), to turn the kernel's image paths into the usual ones.
	Drives() (map[string]string, error)
}

// KernelRecord is one ProcessStart event as the session delivers it.
type KernelRecord struct {
	Version uint8  // event version: the layout of Data
	Data    []byte // the event's user data
	// CommandLine is read from the new process while it runs; "" when it
	// had already exited or could not be opened.
	CommandLine string
}

// KV keeps small values beside the events: the bookmarks.
type KV interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
}

// Config is what a Collector needs. Log and Trace are nil where the OS has
// no such thing.
type Config struct {
	Log   EventLog
	Trace KernelTrace
	Store KV
	// Write hands events to ingest (enrich, lineage, store) and returns how
	// many were new.
	Write func(ctx context.Context, evs []*events.Event) (int, error)
	Logf  func(format string, args ...any)
	// Sleep waits d or until ctx ends; nil sleeps for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// BatchSize (default 256) and Wait (default 2s) bound how many events,
	// and how long, a batch gathers before it is written.
	BatchSize int
	Wait      time.Duration
	// Recheck (default 10 minutes) is how often the Event Log is probed
	// again for sources that appeared or went away.
	Recheck time.Duration
	// Unavailable says why live collection is off on this OS (Platform's
	// third result).
	Unavailable string
}

// Status is one source's state, for the status table.
type Status struct {
	Source  string
	Active  bool
	Reason  string // why active, or why not
	Events  int64  // process starts written (new or already held)
	Skipped int64  // records read but not imported
	LastErr string
	LastAt  time.Time // when the last batch was written
}

// Collector runs the sources a host has.
type Collector struct {
	cfg Config

	mu     sync.Mutex
	status map[string]*Status
}

// New returns a collector; Run starts it.
func New(cfg Config) *Collector {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 2 * time.Second
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 10 * time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	c := &Collector{cfg: cfg, status: map[string]*Status{}}
	for _, s := range []string{SourceSysmon, SourceSecurity, SourceETW} {
		c.status[s] = &Status{Source: s, Reason: "not started"}
	}
	return c
}

// Status returns every source's state, sysmon, security, etw.
func (c *Collector) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.status))
	for _, s := range []string{SourceSysmon, SourceSecurity, SourceETW} {
		out = append(out, *c.status[s])
	}
	return out
}

func (c *Collector) update(source string, fn func(*Status)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.status[source])
}

func (c *Collector) set(source string, active bool, reason string) {
	c.update(source, func(s *Status) { s.Active, s.Reason = active, reason })
}

// Run chooses the sources and collects until ctx ends; it returns nil
// then. Every Recheck it probes the Event Log again, so that Sysmon
// installed or 4688 auditing turned on later is picked up (and the ETW
// session, if it ran, gives way). It returns errNoSource at once where the
// OS has no live source at all.
func (c *Collector) Run(ctx context.Context) error {
	for {
		plan := c.choose()
		if c.cfg.Unavailable != "" {
			return errNoSource
		}
		if len(plan) == 0 {
			c.cfg.Logf("%v; checking again every %s", errNoSource, c.cfg.Recheck)
		}
		seen := c.eventLogSources()
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, p := range plan {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p(runCtx)
			}()
		}
		changed := c.waitForChange(ctx, seen)
		cancel()
		wg.Wait()
		if !changed {
			return nil
		}
		c.cfg.Logf("the Event Log's process start sources changed: choosing again")
	}
}

// eventLogSources says which Event Log sources are usable now. Only these
// are probed again: probing ETW would start a second session beside the
// running one.
func (c *Collector) eventLogSources() [2]bool {
	if c.cfg.Log == nil {
		return [2]bool{}
	}
	_, sec := c.securityUsable()
	return [2]bool{c.cfg.Log.Probe(SysmonChannel) == nil, sec}
}

// waitForChange returns true when the Event Log sources differ from seen,
// false when ctx ends first.
func (c *Collector) waitForChange(ctx context.Context, seen [2]bool) bool {
	for {
		if sleep(ctx, c.cfg.Recheck) != nil {
			return false
		}
		if c.eventLogSources() != seen {
			return true
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
