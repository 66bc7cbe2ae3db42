// Package ingest is the path every process start takes into the event
// store, whatever its source: PE identity from the image on disk, parent
// lineage from earlier starts, then a batched, idempotent insert.
package ingest

import (
	"context"
	"fmt"
	"sort"

	"scsweep/extension/events"
	"scsweep/extension/lineage"
	"scsweep/extension/source"
)

// DefaultBatch is how many events are enriched, resolved and written
// together. Parents are looked up in the batch before the store, so a batch
// may arrive in any order; a parent in a later batch than its child is not
// found (files are rarely that far out of order).
const DefaultBatch = 10_000

// DefaultDepth is how many ancestors an event lists.
const DefaultDepth = 8

// Pipeline writes events into a store.
type Pipeline struct {
	Store *events.Store
	// Enrich fills an event's PE identity from its image file when the
	// record lacks it; nil leaves events as their source gave them.
	Enrich func(ctx context.Context, ev *events.Event)
	// Batch and Depth default to DefaultBatch and DefaultDepth.
	Batch, Depth int
}

// Result is what an import did.
type Result struct {
	source.Summary
	// New events written; Duplicates were already in the store (same eid).
	New, Duplicates int
}

// ImportFile reads one file in the given format (source.Formats) and writes
// its process starts.
func (p *Pipeline) ImportFile(ctx context.Context, path, format string) (Result, error) {
	var res Result
	var batch []*events.Event
	flush := func() error {
		n, err := p.Write(ctx, batch)
		if err != nil {
			return err
		}
		res.New += n
		res.Duplicates += len(batch) - n
		batch = batch[:0]
		return nil
	}
	sum, err := source.ReadFile(ctx, path, format, func(ev *events.Event) error {
		batch = append(batch, ev)
		if len(batch) >= p.batch() {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	res.Summary = sum
	return res, err
}

// Write enriches, resolves lineage for and stores evs, returning how many
// were new. It reorders evs by start time.
func (p *Pipeline) Write(ctx context.Context, evs []*events.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })
	mem := lineage.NewMemory()
	finder := lineage.Chain(mem, p.Store)
	for _, ev := range evs {
		if p.Enrich != nil {
			p.Enrich(ctx, ev)
		}
		if err := lineage.Fill(ctx, ev, finder, p.depth()); err != nil {
			return 0, fmt.Errorf("ingest: lineage of %s: %w", ev.EID, err)
		}
		mem.Add(ev)
	}
	return p.Store.Insert(ctx, evs)
}

func (p *Pipeline) batch() int {
	if p.Batch > 0 {
		return p.Batch
	}
	return DefaultBatch
}

func (p *Pipeline) depth() int {
	if p.Depth > 0 {
		return p.Depth
	}
	return DefaultDepth
}
