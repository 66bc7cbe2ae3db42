// Package ingest is the path every process start takes into the event
// store, whatever its source: PE identity from the image on disk, parent
// lineage from earlier starts, then a batched, idempotent insert.
package ingest

import (
	"context"
	"fmt"
	"strings"

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
	// record lacks it; nil leaves events as their source gave them. Its
	// errors do not stop an import: the event is stored as its source gave
	// it and the reason is counted in the Result's notes.
	Enrich func(ctx context.Context, ev *events.Event) error
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
	notes := map[string]int{}
	flush := func() error {
		n, err := p.write(ctx, batch, notes)
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
	for k, v := range notes {
		if res.Notes == nil {
			res.Notes = map[string]int{}
		}
		res.Notes[k] += v
	}
	return res, err
}

// Write enriches, resolves lineage for and stores evs, returning how many
// were new. evs may be in any order.
func (p *Pipeline) Write(ctx context.Context, evs []*events.Event) (int, error) {
	return p.write(ctx, evs, nil)
}

func (p *Pipeline) write(ctx context.Context, evs []*events.Event, notes map[string]int) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	for _, ev := range evs {
		if p.Enrich != nil {
			if err := p.Enrich(ctx, ev); err != nil && notes != nil {
				notes["image identity not read: "+enrichReason(err)]++
			}
		}
	}
	if err := lineage.FillBatch(ctx, evs, p.Store, p.depth()); err != nil {
		return 0, fmt.Errorf("ingest: lineage: %w", err)
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

// enrichReason shortens an enrichment error to its kind, so a summary counts
// kinds rather than listing every path.
func enrichReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
