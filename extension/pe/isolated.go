package pe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ErrWorker wraps every failure of the worker process itself (crash, hang,
// lost connection), as opposed to an error about the file.
var ErrWorker = errors.New("pe worker failed")

// Isolated analyzes files in a worker subprocess, one file at a time. A
// worker that crashes, panics outside the parser's own recovery, runs out of
// memory or exceeds the time limit is killed; the file gets an error wrapping
// ErrWorker and the next call starts a fresh worker.
type Isolated struct {
	cfg Config
	wc  WorkerConfig
	log hclog.Logger

	sem    chan struct{} // one analysis at a time per worker
	client *plugin.Client
	worker Worker

	starts atomic.Int64
	closed atomic.Bool
	mu     sync.Mutex // guards client and worker against Close
}

// NewIsolated checks cfg (the roots must load) and returns an analyzer; the
// worker starts on first use.
func NewIsolated(cfg Config) (*Isolated, error) {
	if _, err := cfg.Pool(); err != nil {
		return nil, err
	}
	wc, err := cfg.workerConfig()
	if err != nil {
		return nil, err
	}
	out := cfg.Log
	if out == nil {
		out = io.Discard
	}
	return &Isolated{
		cfg: cfg,
		wc:  wc,
		log: hclog.New(&hclog.LoggerOptions{Name: "pe-worker", Output: out, Level: hclog.Warn}),
		sem: make(chan struct{}, 1),
	}, nil
}

// Starts says how many worker processes were started so far: one, plus one
// per failure.
func (iso *Isolated) Starts() int64 { return iso.starts.Load() }

// Analyze returns the identity of the file at path, computed in the worker.
func (iso *Isolated) Analyze(ctx context.Context, path string) (*Identity, error) {
	select {
	case iso.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pe: %s: %w", path, ctx.Err())
	}
	defer func() { <-iso.sem }()

	w, err := iso.ensure()
	if err != nil {
		return nil, err
	}
	type result struct {
		id  *Identity
		err error
	}
	done := make(chan result, 1)
	limit := iso.cfg.timeout()
	go func() {
		// The worker gets most of the limit so that a merely slow
		// file fails cleanly there before we have to kill it.
		id, err := w.Analyze(Request{Path: path, Timeout: limit * 9 / 10})
		done <- result{id, err}
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil && iso.workerDead() {
			iso.kill()
			return nil, fmt.Errorf("pe: %s: %w: %v", path, ErrWorker, r.err)
		}
		if r.err != nil {
			// net/rpc flattens errors to strings; a file that went
			// away meanwhile should still read as fs.ErrNotExist.
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("pe: %w", err)
			}
			return nil, r.err
		}
		return r.id, nil
	case <-timer.C:
		iso.kill()
		return nil, fmt.Errorf("pe: %s: %w: no answer within %v, worker killed", path, ErrWorker, limit)
	case <-ctx.Done():
		// The worker is busy with a file nobody waits for; a new one
		// is cheaper than waiting it out.
		iso.kill()
		return nil, fmt.Errorf("pe: %s: %w", path, ctx.Err())
	}
}

// workerDead tells a failed call caused by the worker dying from an
// ordinary error returned by the analysis.
func (iso *Isolated) workerDead() bool {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.client == nil {
		return true
	}
	if iso.client.Exited() {
		return true
	}
	rc, err := iso.client.Client()
	if err != nil {
		return true
	}
	return rc.Ping() != nil
}

func (iso *Isolated) ensure() (Worker, error) {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.closed.Load() {
		return nil, errors.New("pe: analyzer closed")
	}
	if iso.client != nil && !iso.client.Exited() {
		return iso.worker, nil
	}
	if iso.client != nil {
		iso.client.Kill()
		iso.client = nil
	}
	cmd, err := iso.cfg.command()
	if err != nil {
		return nil, err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          map[string]plugin.Plugin{pluginName: &WorkerPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           iso.log,
		StartTimeout:     30 * time.Second,
	})
	iso.starts.Add(1)
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("pe: starting worker: %w: %v", ErrWorker, err)
	}
	raw, err := rpcClient.Dispense(pluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("pe: starting worker: %w: %v", ErrWorker, err)
	}
	w := raw.(Worker)
	if err := w.Configure(iso.wc); err != nil {
		client.Kill()
		return nil, fmt.Errorf("pe: configuring worker: %w", err)
	}
	iso.client, iso.worker = client, w
	return w, nil
}

func (iso *Isolated) kill() {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.client != nil {
		iso.client.Kill()
		iso.client, iso.worker = nil, nil
	}
}

// Close stops the worker.
func (iso *Isolated) Close() error {
	iso.closed.Store(true)
	iso.kill()
	return nil
}
