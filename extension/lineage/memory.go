package lineage

import (
	"context"
	"math"
	"sort"
	"sync"

	"scsweep/extension/events"
)

// Memory is a Finder over starts held in memory: the tests' store, and the
// one an import uses to resolve parents within the batch it has not yet
// written. It is safe for concurrent use.
type Memory struct {
	mu       sync.RWMutex
	byEID    map[string]bool
	byEntity map[string]*events.Event
	byPID    map[int64][]*events.Event // each sorted by Time, oldest first
}

var _ Finder = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		byEID:    map[string]bool{},
		byEntity: map[string]*events.Event{},
		byPID:    map[int64][]*events.Event{},
	}
}

// Add records a start. A start whose eid is already known is ignored, so
// adding a re-imported record changes nothing. Starts without a pid are
// found by entity id only.
func (m *Memory) Add(ev *events.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.EID != "" {
		if m.byEID[ev.EID] {
			return
		}
		m.byEID[ev.EID] = true
	}
	if ev.EntityID != "" {
		if _, ok := m.byEntity[ev.EntityID]; !ok {
			m.byEntity[ev.EntityID] = ev
		}
	}
	if !ev.HasPID {
		return
	}
	list := m.byPID[ev.PID]
	// Insert after every start at the same time, so among equal times
	// the one added last is the latest.
	i := sort.Search(len(list), func(i int) bool { return list[i].Time > ev.Time })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = ev
	m.byPID[ev.PID] = list
}

// Len is the number of starts held.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, l := range m.byPID {
		n += len(l)
	}
	for _, ev := range m.byEntity {
		if !ev.HasPID {
			n++
		}
	}
	return n
}

// ByEntityID implements Finder.
func (m *Memory) ByEntityID(ctx context.Context, id string) (*events.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byEntity[id], nil
}

// LatestStart implements Finder.
func (m *Memory) LatestStart(ctx context.Context, pid int64, notAfter int64) (*events.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	list := m.byPID[pid]
	i := sort.Search(len(list), func(i int) bool { return list[i].Time > notAfter })
	if i == 0 {
		return nil, nil
	}
	return list[i-1], nil
}

// Chain is a Finder over several: an entity id is looked up in each in turn,
// and the latest start of a pid is the latest any of them holds. An import
// chains its batch's Memory before the store.
func Chain(finders ...Finder) Finder { return chain(finders) }

type chain []Finder

func (c chain) ByEntityID(ctx context.Context, id string) (*events.Event, error) {
	for _, f := range c {
		ev, err := f.ByEntityID(ctx, id)
		if err != nil || ev != nil {
			return ev, err
		}
	}
	return nil, nil
}

func (c chain) LatestStart(ctx context.Context, pid int64, notAfter int64) (*events.Event, error) {
	var best *events.Event
	for _, f := range c {
		ev, err := f.LatestStart(ctx, pid, notAfter)
		if err != nil {
			return nil, err
		}
		if ev != nil && (best == nil || ev.Time > best.Time) {
			best = ev
		}
	}
	return best, nil
}

// FillBatch fills every event of a batch (one imported file, say) as Fill
// does, resolving parents among the batch itself first and then in store
// (which may be nil). The batch may be in any order: Get-WinEvent lists the
// newest record first, so children often come before their parents. Each
// event is added to the batch's Memory before any is filled; the rules
// keep a start from being the parent of anything that began before it.
func FillBatch(ctx context.Context, batch []*events.Event, store Finder, maxDepth int) error {
	mem := NewMemory()
	for _, ev := range batch {
		mem.Add(ev)
	}
	var f Finder = mem
	if store != nil {
		f = Chain(mem, newRemembering(store))
	}
	for _, ev := range batch {
		if err := Fill(ctx, ev, f, maxDepth); err != nil {
			return err
		}
	}
	return nil
}

// remembering answers a batch's repeated store lookups from memory: the
// events of a batch share a few parents and grandparents, and each lookup
// over SQL costs more than the rest of an event's ingest. It holds answers
// for one batch only, so the store it fronts is read as of the batch's
// first lookup of each process, as a batch written at once would see it.
type remembering struct {
	f        Finder
	byEntity map[string]*events.Event // nil answers too
	byPID    map[int64][]span
}

// span is one LatestStart answer: ev for every notAfter in [from, to].
// The store's latest start of pid at or before the time asked is ev, so no
// start of pid lies between ev.Time and that time, nor up to the pid's next
// start: ev answers for every notAfter from ev.Time (from anything, when
// there is no start at all) to just before that next start.
type span struct {
	from, to int64
	ev       *events.Event
}

func newRemembering(f Finder) *remembering {
	return &remembering{f: f, byEntity: map[string]*events.Event{}, byPID: map[int64][]span{}}
}

func (r *remembering) ByEntityID(ctx context.Context, id string) (*events.Event, error) {
	if ev, ok := r.byEntity[id]; ok {
		return ev, nil
	}
	ev, err := r.f.ByEntityID(ctx, id)
	if err != nil {
		return nil, err
	}
	r.byEntity[id] = ev
	return ev, nil
}

func (r *remembering) LatestStart(ctx context.Context, pid int64, notAfter int64) (*events.Event, error) {
	for _, s := range r.byPID[pid] {
		if s.from <= notAfter && notAfter <= s.to {
			return s.ev, nil
		}
	}
	ev, err := r.f.LatestStart(ctx, pid, notAfter)
	if err != nil {
		return nil, err
	}
	sp := span{from: math.MinInt64, to: notAfter, ev: ev}
	if ev != nil {
		sp.from = ev.Time
	}
	// A batch's children come in time order and ask about the same
	// parents at ever later times; the next start of pid bounds how far
	// this answer holds, so one lookup serves them all.
	if a, ok := r.f.(startsAfter); ok {
		next, err := a.StartsAfter(ctx, pid, notAfter, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		if next == nil {
			sp.to = math.MaxInt64
		} else if next.Time > notAfter {
			sp.to = next.Time - 1
		}
	}
	r.byPID[pid] = append(r.byPID[pid], sp)
	return ev, nil
}

// startsAfter is the store's lookup of the first start of pid after t.
type startsAfter interface {
	StartsAfter(ctx context.Context, pid int64, t, notAfter int64) (*events.Event, error)
}
