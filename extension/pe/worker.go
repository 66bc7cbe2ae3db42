package pe

import (
	"context"
	"errors"
	"net/rpc"
	"os"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-plugin"
)

// This file is the whole contract between the extension and its PE worker
// subprocess: the handshake, the interface, and its net/rpc adapters. net/rpc
// (gob) needs no generated code and the worker is always the same binary as
// its parent, so both sides always agree on the types.

// WorkerCommand is the hidden subcommand that runs the worker: the parent
// re-executes its own binary with it.
const WorkerCommand = "pe-worker"

// Handshake keeps the worker from being started by hand or by another
// program: go-plugin refuses to serve without the cookie in the environment.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SCSWEEP_PE_WORKER",
	MagicCookieValue: "8f1c2b7e-pe-identity-worker",
}

const pluginName = "pe"

// Request asks the worker to analyze one file.
type Request struct {
	Path string
	// Timeout bounds the analysis inside the worker; the parent enforces
	// its own, longer, limit by killing the worker.
	Timeout time.Duration
}

// WorkerConfig is what a worker needs to know, sent once after it starts.
type WorkerConfig struct {
	MaxSize     int64
	RootsPEM    []byte
	SystemRoots bool
	VerifyAt    time.Time
}

// Worker is the service the subprocess offers.
type Worker interface {
	Configure(cfg WorkerConfig) error
	Analyze(req Request) (*Identity, error)
}

// WorkerPlugin is the go-plugin glue for Worker. Impl is only set on the
// worker's side.
type WorkerPlugin struct {
	Impl Worker
}

var (
	_ plugin.Plugin = (*WorkerPlugin)(nil)
	_ Worker        = (*rpcClient)(nil)
	_ Worker        = (*localWorker)(nil)
)

// Server implements plugin.Plugin.
func (p *WorkerPlugin) Server(*plugin.MuxBroker) (any, error) {
	return &RPCServer{impl: p.Impl}, nil
}

// Client implements plugin.Plugin.
func (p *WorkerPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &rpcClient{c: c}, nil
}

type rpcClient struct{ c *rpc.Client }

func (r *rpcClient) Configure(cfg WorkerConfig) error {
	return r.c.Call("Plugin.Configure", cfg, new(struct{}))
}

func (r *rpcClient) Analyze(req Request) (*Identity, error) {
	id := new(Identity)
	if err := r.c.Call("Plugin.Analyze", req, id); err != nil {
		return nil, err
	}
	return id, nil
}

// RPCServer is the net/rpc face of a Worker; exported only because net/rpc
// requires it.
type RPCServer struct{ impl Worker }

// Configure is the RPC for Worker.Configure.
func (s *RPCServer) Configure(cfg WorkerConfig, _ *struct{}) error {
	return s.impl.Configure(cfg)
}

// Analyze is the RPC for Worker.Analyze.
func (s *RPCServer) Analyze(req Request, resp *Identity) error {
	id, err := s.impl.Analyze(req)
	if err != nil {
		return err
	}
	*resp = *id
	return nil
}

// ServeWorker runs the worker; it returns when the parent goes away. It is
// what `scsweep.ext pe-worker` runs.
func ServeWorker() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         map[string]plugin.Plugin{pluginName: &WorkerPlugin{Impl: &localWorker{}}},
	})
}

// localWorker analyzes files in the worker process.
type localWorker struct {
	opts Options
}

// workerHook, when set (only ever by this package's tests), runs before each
// analysis so tests can make the worker panic, hang or exit on a marker file.
var workerHook func(path string)

func (w *localWorker) Configure(cfg WorkerConfig) error {
	w.opts = Options{MaxSize: cfg.MaxSize, Now: cfg.VerifyAt, Logger: os.Stderr}
	pool, err := (&Config{RootsPEM: cfg.RootsPEM, SystemRoots: cfg.SystemRoots}).Pool()
	if err != nil {
		return err
	}
	w.opts.Roots = pool
	// A soft ceiling: the runtime collects harder as it nears it. A file
	// that still drives the worker out of memory kills only the worker.
	debug.SetMemoryLimit(4*w.opts.maxSize() + 256<<20)
	return nil
}

func (w *localWorker) Analyze(req Request) (*Identity, error) {
	if req.Path == "" {
		return nil, errors.New("pe: empty path")
	}
	if workerHook != nil {
		workerHook(req.Path)
	}
	ctx := context.Background()
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	return Analyze(ctx, req.Path, &w.opts)
}
