// Package sweep runs detection rules over the fleet: for each rule and host
// it pushes the rule's push-down SQL for the host's window, evaluates the
// rows with the EQL engine exactly, and stores runs, alerts and watermarks
// in one transaction.
//
// A host's window starts at the earlier of the rule's look-back (now-from,
// as Kibana runs it) and the host's watermark, so a host that was offline
// has its whole gap swept when it answers again; what the host still holds
// (its event retention) bounds how far that reaches. A host swept for the
// first time has all it holds swept once: scsweep is often deployed after
// the fact, with history imported. Windows overlap by design; the alert id
// (host, event, rule) makes a re-found event a no-op.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"scsweep/extension/schema"
	"scsweep/server/eql"
	"scsweep/server/hub"
	"scsweep/server/rules"
	"scsweep/server/store"
	"scsweep/server/wire"
)

// DefaultQueryTimeout bounds how long a sweep waits for hosts' answers.
const DefaultQueryTimeout = 2 * time.Minute

// Sweeper runs rules. Hub, Store and Rules are required.
type Sweeper struct {
	Hub   *hub.Hub
	Store *store.Store
	Rules []*rules.Rule
	// Table is the table rules are pushed down to (process_lineage_events).
	Table *schema.Table
	// QueryTimeout bounds one push (DefaultQueryTimeout when zero).
	QueryTimeout time.Duration
	// Evidence gathers the investigation guide's pivots from each host with
	// new alerts and keeps them in the alerts (see gatherEvidence).
	Evidence bool
	Now      func() time.Time
	Logger   *slog.Logger

	mu sync.Mutex // one sweep of a rule at a time
}

// Result says what one run of a rule did.
type Result struct {
	RuleID   string    `json:"rule_id"`
	RuleName string    `json:"rule_name"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Hosts    int       `json:"hosts"`    // hosts the rule was pushed to
	Answered int       `json:"answered"` // hosts that answered completely
	Rows     int       `json:"rows"`     // candidate rows returned
	Matches  int       `json:"matches"`  // events the rule matched
	Dropped  int       `json:"dropped"`  // matches beyond max_signals
	Created  int       `json:"created"`  // new alerts (the rest existed)
	Failed   []string  `json:"failed,omitempty"`
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Sweeper) table() *schema.Table {
	if s.Table != nil {
		return s.Table
	}
	return &schema.ProcessLineageEvents
}

// Rule returns the loaded rule with the given id.
func (s *Sweeper) Rule(id string) (*rules.Rule, bool) {
	for _, r := range s.Rules {
		if r.RuleID == id {
			return r, true
		}
	}
	return nil, false
}

// SweepAll runs every rule once, now.
func (s *Sweeper) SweepAll(ctx context.Context) ([]Result, error) {
	var out []Result
	var errs []error
	for _, r := range s.Rules {
		res, err := s.Sweep(ctx, r)
		out = append(out, res)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Run sweeps each rule every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.Rules {
		wg.Add(1)
		go func(r *rules.Rule) {
			defer wg.Done()
			t := time.NewTicker(r.Interval)
			defer t.Stop()
			for {
				if res, err := s.Sweep(ctx, r); err != nil {
					s.log().Warn("sweep failed", "rule", r.Name, "err", err)
				} else {
					s.log().Info("swept", "rule", r.Name, "hosts", res.Hosts, "answered", res.Answered,
						"rows", res.Rows, "matches", res.Matches, "new_alerts", res.Created, "dropped", res.Dropped)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}(r)
	}
	wg.Wait()
}

// window is one group of hosts that share a window start.
type window struct {
	from  time.Time
	hosts []string
}

// Sweep runs one rule over every enrolled host now.
func (s *Sweeper) Sweep(ctx context.Context, r *rules.Rule) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().Truncate(time.Second)
	res := Result{RuleID: r.RuleID, RuleName: r.Name, Started: now}
	hosts, err := s.Store.Hosts(ctx)
	if err != nil {
		return res, err
	}
	marks, err := s.Store.Watermarks(ctx, r.RuleID)
	if err != nil {
		return res, err
	}
	lookback := now.Add(-r.Lookback)
	groups := map[int64]*window{}
	for _, h := range hosts {
		from := time.Unix(0, 0) // first contact: everything the host holds
		if wm, ok := marks[h.ID]; ok {
			from = wm
		}
		if from.After(lookback) {
			from = lookback
		}
		g := groups[from.Unix()]
		if g == nil {
			g = &window{from: from}
			groups[from.Unix()] = g
		}
		g.hosts = append(g.hosts, h.ID)
	}
	timeout := s.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}

	// Push every group at once: a sweep takes as long as the slowest host.
	type pushed struct {
		w    *window
		sql  string
		push *hub.Push
		at   time.Time
	}
	var ps []pushed
	for _, g := range groups {
		sql, err := eql.WindowSQLOn(r.CompiledQuery(), s.table(), timeField(r), g.from.Unix(), now.Unix())
		if err != nil {
			return res, fmt.Errorf("sweep %s: push-down: %w", r.Name, err)
		}
		// The deadline is wall time: s.Now may be a test clock.
		p, err := s.Hub.Push(ctx, g.hosts, sql, time.Now().Add(timeout))
		if err != nil {
			return res, fmt.Errorf("sweep %s: push: %w", r.Name, err)
		}
		ps = append(ps, pushed{w: g, sql: sql, push: p, at: time.Now()})
		res.Hosts += len(g.hosts)
	}

	// Each host's answer is evaluated as it arrives, while others are still
	// answering, and its rows are dropped once evaluated: a match keeps its
	// row (whose values share the chunk's one string), not the ECS document,
	// which is rebuilt only for the alerts that are stored.
	table := s.table()
	// Rows are matched against the table's columns directly (eql.RowQuery
	// agrees with matching their ECS documents); host.id is the sweep's.
	rq, err := r.CompiledQuery().ForTable(table, "host.id")
	if err != nil {
		return res, fmt.Errorf("sweep %s: %w", r.Name, err)
	}
	var recs []store.RunRecord
	var matches []match
	for _, p := range ps {
		for hr := range p.push.Results {
			rec := store.RunRecord{Run: store.RuleRun{
				HostID: hr.HostID, RuleID: r.RuleID, From: p.w.from, To: now,
				Started: p.at, Status: string(hr.Status), Error: hr.Error,
				QueryMS: hr.Received.Sub(p.at).Milliseconds(),
			}}
			if hr.Status != wire.StatusOK {
				res.Failed = append(res.Failed, hr.HostID+": "+string(hr.Status))
				rec.Run.Finished = time.Now()
				recs = append(recs, rec)
				continue
			}
			res.Answered++
			evalStart := time.Now()
			rec.Run.Rows = len(hr.Rows)
			for _, row := range hr.Rows {
				if rq.Match(row, hr.HostID) {
					matches = append(matches, match{host: hr.HostID, rec: len(recs), row: row, t: rowTime(row),
						id: rules.AlertID(hr.HostID, eventID(table, row), r.RuleID)})
					rec.Run.Matches++
				}
			}
			rec.Run.EvalMS = time.Since(evalStart).Milliseconds()
			rec.Run.Finished = time.Now()
			rec.Advance = true
			recs = append(recs, rec)
			res.Rows += rec.Run.Rows
			res.Matches += rec.Run.Matches
		}
	}

	// max_signals: newest first; the rest are counted, per host, not lost
	// silently. A match already alerted (an overlapping window) does not
	// take a place.
	known, err := s.existing(ctx, r, matches)
	if err != nil {
		return res, err
	}
	fresh := matches[:0]
	for _, m := range matches {
		if !known[m.id] {
			fresh = append(fresh, m)
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].t > fresh[j].t })
	if r.MaxSignals > 0 && len(fresh) > r.MaxSignals {
		for _, m := range fresh[r.MaxSignals:] {
			recs[m.rec].Run.Dropped++
			res.Dropped++
		}
		fresh = fresh[:r.MaxSignals]
	}
	var evidence map[string]map[string]any
	if s.Evidence && len(fresh) > 0 {
		evidence, err = s.evidence(ctx, fresh, timeout, now)
		if err != nil {
			return res, err
		}
	}
	for _, m := range fresh {
		doc := table.ECSDocument(m.row)
		setHost(doc, m.host)
		attachEvidence(doc, evidence[m.host])
		a, err := storeAlert(r, m.host, doc, m.t, now)
		if err != nil {
			return res, err
		}
		recs[m.rec].Alerts = append(recs[m.rec].Alerts, a)
	}
	created, err := s.Store.RecordRuns(ctx, recs)
	if err != nil {
		return res, fmt.Errorf("sweep %s: record: %w", r.Name, err)
	}
	res.Created = created
	res.Finished = time.Now()
	return res, nil
}

type match struct {
	host string
	rec  int
	row  map[string]string
	t    int64
	id   string // the alert id
}

// evidence gathers the guide's pivots for the hosts of the new alerts.
func (s *Sweeper) evidence(ctx context.Context, fresh []match, timeout time.Duration, now time.Time) (map[string]map[string]any, error) {
	byHost := map[string][]match{}
	for _, m := range fresh {
		byHost[m.host] = append(byHost[m.host], m)
	}
	ev := s.gatherEvidence(ctx, byHost, timeout)
	for host := range byHost {
		related, err := s.relatedAlerts(ctx, host, now)
		if err != nil {
			return nil, err
		}
		ev[host]["related_alerts"] = related
	}
	return ev, nil
}

// existing returns which of the matches' alert ids are already stored. An
// alert's time is its event's, so none of them is older than the oldest
// match.
func (s *Sweeper) existing(ctx context.Context, r *rules.Rule, ms []match) (map[string]bool, error) {
	ids := make([]string, 0, len(ms))
	var oldest int64
	for i, m := range ms {
		ids = append(ids, m.id)
		if i == 0 || m.t < oldest {
			oldest = m.t
		}
	}
	return s.Store.AlertsExistSince(ctx, r.RuleID, time.Unix(oldest, 0), ids)
}

func storeAlert(r *rules.Rule, host string, doc map[string]any, t int64, now time.Time) (store.Alert, error) {
	a := rules.BuildAlert(r, host, doc, now)
	b, err := json.Marshal(a)
	if err != nil {
		return store.Alert{}, fmt.Errorf("sweep: alert: %w", err)
	}
	return store.Alert{
		ID: a.ID(), HostID: host, RuleID: r.RuleID, Time: time.Unix(t, 0).UTC(),
		Severity: r.Severity, RiskScore: r.RiskScore, Created: now, Doc: b,
	}, nil
}

func setHost(doc map[string]any, hostID string) {
	h, ok := doc["host"].(map[string]any)
	if !ok {
		h = map[string]any{}
		doc["host"] = h
	}
	h["id"] = hostID
}

// eventID is the row's event.id, the alert id's event part.
func eventID(table *schema.Table, row map[string]string) string {
	if c, ok := table.ColumnForECS("event.id"); ok {
		return row[c.Name]
	}
	return ""
}

func rowTime(row map[string]string) int64 {
	t, _ := strconv.ParseInt(row["time"], 10, 64)
	return t
}

// timeField is the field a rule's window is on: its timestamp_override
// (event.ingested for most Elastic rules, the ScreenConnect one included)
// or the event time.
func timeField(r *rules.Rule) string {
	if r.TimestampOverride != "" {
		return r.TimestampOverride
	}
	return "@timestamp"
}
