// Package hunt runs an ad hoc query across the fleet: it records the hunt,
// pushes the query through the hub, stores every host's answer as it comes
// (batched, so a fleet of answers costs few transactions) and reports
// progress. It is what `sweeper hunt` and the HTTP API call.
package hunt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"scsweep/server/hub"
	"scsweep/server/store"
)

// Request is one hunt.
type Request struct {
	SQL string
	// Hosts to ask; nil asks every enrolled host.
	Hosts   []string
	Timeout time.Duration // default 1 min
}

// FlushEvery bounds how long an answer waits to be stored.
const FlushEvery = 50 * time.Millisecond

// Progress is reported after each batch of answers is stored.
type Progress struct {
	HuntID   string
	Targeted int
	Answered int
	Rows     int
	Failed   int // hosts that answered with a status other than ok
	Done     bool
}

// Run runs the hunt to the end and returns the final progress. progress,
// when not nil, is called from Run's goroutine.
func Run(ctx context.Context, h *hub.Hub, st *store.Store, req Request, progress func(Progress)) (Progress, error) {
	if req.Timeout <= 0 {
		req.Timeout = time.Minute
	}
	start := time.Now()
	deadline := start.Add(req.Timeout)
	push, err := h.Push(ctx, req.Hosts, req.SQL, deadline)
	if err != nil {
		return Progress{}, fmt.Errorf("hunt: %w", err)
	}
	id := newID()
	pr := Progress{HuntID: id, Targeted: cap(push.Results)}
	if err := st.CreateHunt(ctx, store.Hunt{ID: id, SQL: req.SQL, Created: start, Deadline: deadline, Targeted: pr.Targeted}); err != nil {
		return pr, fmt.Errorf("hunt: %w", err)
	}
	// Answers are stored in batches: whatever arrived while the previous
	// batch was being written goes in the next transaction.
	batch := make([]store.HostAnswer, 0, 1024)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// Stored with a background context: answers already received are
		// kept even when the hunt is canceled.
		n, err := st.AddAnswers(context.WithoutCancel(ctx), batch)
		if err != nil {
			return fmt.Errorf("hunt %s: %w", id, err)
		}
		pr.Rows += n
		pr.Answered += len(batch)
		batch = batch[:0]
		if progress != nil {
			progress(pr)
		}
		return nil
	}
	add := func(r hub.HostResult) {
		if r.Status != "ok" {
			pr.Failed++
		}
		batch = append(batch, store.HostAnswer{HuntID: id, HostID: r.HostID, Status: string(r.Status), Error: r.Error, Rows: r.Rows, WallMS: r.Stats.WallMS, Finished: r.Received})
	}
	// A batch is written when it is full, when FlushEvery has passed since
	// its first answer, or when the last answer is in: a fleet answering
	// at once costs tens of transactions, and a lone answer waits at most
	// FlushEvery.
	var timer <-chan time.Time
collect:
	for {
		select {
		case r, ok := <-push.Results:
			if !ok {
				break collect
			}
			add(r)
			if len(batch) == 1 {
				timer = time.After(FlushEvery)
			}
			if len(batch) < cap(batch) {
				continue
			}
		case <-timer:
		}
		timer = nil
		if err := flush(); err != nil {
			return pr, err
		}
	}
	if err := flush(); err != nil {
		return pr, err
	}
	pr.Done = true
	if err := st.FinishHunt(context.WithoutCancel(ctx), id, "done", time.Now()); err != nil {
		return pr, fmt.Errorf("hunt: %w", err)
	}
	if progress != nil {
		progress(pr)
	}
	return pr, nil
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
