package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"scsweep/extension/events"
	"scsweep/extension/source"
)

// BookmarkKey is the store key under which a channel's bookmark is kept.
func BookmarkKey(channel string) string { return "live.bookmark." + channel }

// channelLoop follows one channel until ctx ends, resubscribing from the
// saved bookmark after any failure, with backoff.
func (c *Collector) channelLoop(src, channel, query string) func(context.Context) {
	return func(ctx context.Context) {
		c.retry(ctx, src, func(ctx context.Context, ok func()) error {
			return c.follow(ctx, src, channel, query, ok)
		})
	}
}

// retry runs fn until ctx ends, waiting a growing delay after each
// failure; fn calls ok once it made progress, which resets the delay.
func (c *Collector) retry(ctx context.Context, src string, fn func(ctx context.Context, ok func()) error) {
	b := newBackoff(time.Second, 5*time.Minute)
	for ctx.Err() == nil {
		err := fn(ctx, b.reset)
		if ctx.Err() != nil {
			return
		}
		d := b.next()
		c.update(src, func(s *Status) { s.LastErr = err.Error() })
		c.cfg.Logf("%s: %v (retrying in %s)", src, err, d)
		if c.cfg.Sleep(ctx, d) != nil {
			return
		}
	}
}

// follow subscribes from the saved bookmark and writes what arrives until
// an error. The bookmark moves only once a batch is stored: a crash in
// between delivers the batch again, and the store, keyed by the record's
// own eid, takes it as already held — nothing is lost and nothing doubled.
func (c *Collector) follow(ctx context.Context, src, channel, query string, ok func()) error {
	key := BookmarkKey(channel)
	bm, err := c.cfg.Store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read bookmark: %w", err)
	}
	sub, err := c.cfg.Log.Subscribe(channel, query, bm)
	if errors.Is(err, ErrBadBookmark) {
		// Start over from the oldest record: what is read again is already
		// held (same eids), and nothing still in the log is missed.
		c.cfg.Logf("%s: saved bookmark refused, reading %s from its oldest record: %v", src, channel, err)
		if err := c.cfg.Store.Set(ctx, key, ""); err != nil {
			return fmt.Errorf("clear bookmark: %w", err)
		}
		sub, err = c.cfg.Log.Subscribe(channel, query, "")
	}
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	defer sub.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := sub.Next(c.cfg.BatchSize, c.cfg.Wait)
		if err != nil {
			return fmt.Errorf("read %s: %w", channel, err)
		}
		if len(batch.Events) == 0 {
			continue
		}
		evs, sum := c.normalize(ctx, channel, batch.Events)
		if len(evs) > 0 {
			if _, err := c.cfg.Write(ctx, evs); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
		if batch.Bookmark != "" {
			if err := c.cfg.Store.Set(ctx, key, batch.Bookmark); err != nil {
				return fmt.Errorf("save bookmark: %w", err)
			}
		}
		ok()
		skipped := int64(sum.Records - sum.Emitted)
		c.update(src, func(s *Status) {
			s.Events += int64(len(evs))
			s.Skipped += skipped
			s.LastErr = ""
			s.LastAt = time.Now()
		})
	}
}

// normalize turns rendered event XML into events through the same
// normalizer as imported XML.
func (c *Collector) normalize(ctx context.Context, channel string, xmls [][]byte) ([]*events.Event, source.Summary) {
	var buf bytes.Buffer
	for _, x := range xmls {
		buf.Write(x)
		buf.WriteByte('\n')
	}
	var evs []*events.Event
	sum, err := source.Read(ctx, &buf, channel, "sysmon-xml", func(ev *events.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		c.cfg.Logf("%s: %v", channel, err)
	}
	for reason, n := range sum.Skipped {
		c.cfg.Logf("%s: %d records skipped: %s", channel, n, reason)
	}
	return evs, sum
}

// backoff doubles a delay from min up to max.
type backoff struct{ cur, min, max time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur *= 2
		if b.cur > b.max {
			b.cur = b.max
		}
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
