package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"scsweep/extension/pe"
)

func init() {
	register("pe", "print the PE identity and signature of files as ECS JSON", runPE)
	register(pe.WorkerCommand, "internal: PE analysis subprocess (started by the extension)", func(args []string, stdout, stderr io.Writer) int {
		pe.ServeWorker()
		return 0
	})
}

func runPE(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roots := fs.String("roots", "", "PEM bundle of trusted roots (default: the system store on Windows, none elsewhere)")
	inProcess := fs.Bool("in-process", false, "parse in this process instead of an isolated worker (for debugging)")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit per file")
	maxSize := fs.Int64("max-size", pe.DefaultMaxSize, "largest file analyzed, in bytes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scsweep.ext pe [--roots PEM] [--in-process] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg := pe.DefaultConfig()
	cfg.MaxSize, cfg.Timeout = *maxSize, *timeout
	if *roots != "" {
		cfg.RootsFile, cfg.SystemRoots = *roots, false
	}
	ctx := context.Background()
	var analyze func(ctx context.Context, path string) (*pe.Identity, error)
	if *inProcess {
		opts := &pe.Options{MaxSize: *maxSize, Logger: stderr}
		pool, err := cfg.Pool()
		if err != nil {
			fmt.Fprintln(stderr, "scsweep.ext pe:", err)
			return 1
		}
		opts.Roots = pool
		analyze = func(ctx context.Context, path string) (*pe.Identity, error) {
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			return pe.Analyze(ctx, path, opts)
		}
	} else {
		iso, err := pe.NewIsolated(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "scsweep.ext pe:", err)
			return 1
		}
		defer iso.Close()
		analyze = iso.Analyze
	}
	enc := json.NewEncoder(stdout)
	status := 0
	for _, path := range fs.Args() {
		id, err := analyze(ctx, path)
		if err != nil {
			fmt.Fprintf(stderr, "scsweep.ext pe: %v\n", err)
			_ = enc.Encode(map[string]any{"file.path": path, "error.message": err.Error()})
			status = 1
			continue
		}
		if err := enc.Encode(id.ECS()); err != nil {
			fmt.Fprintln(stderr, "scsweep.ext pe:", err)
			return 1
		}
	}
	return status
}
