package main

import (
	"context"
	"log"
	"sync"

	"scsweep/extension/events"
	"scsweep/extension/ingest"
	"scsweep/extension/live"
)

// collector is this process's live collection. serve starts it before it
// serves tables; other commands leave it nil, and scsweep_status then says
// the live sources are not collected by them.
var collector *live.Collector

func collectorStatus() []live.Status {
	if collector == nil {
		return nil
	}
	return collector.Status()
}

// startLive starts live collection into store. On Windows that is the
// Event Log (and ETW where it has no process starts); elsewhere the
// collector runs nothing and its status says why. The returned stop ends
// collection and waits for its last write, so call it before closing the
// store.
func startLive(ctx context.Context, store *events.Store, id *peIdentity, logger *log.Logger) (stop func()) {
	evlog, trace, why := live.Platform()
	p := &ingest.Pipeline{Store: store, Enrich: id.enrich}
	// One writer at a time: the sources share the store and the PE reader.
	var mu sync.Mutex
	write := func(ctx context.Context, evs []*events.Event) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return p.Write(ctx, evs)
	}
	collector = live.New(live.Config{Log: evlog, Trace: trace, Store: store, Write: write, Logf: logger.Printf, Unavailable: why})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := collector.Run(ctx); err != nil && why == "" {
			logger.Print(err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
