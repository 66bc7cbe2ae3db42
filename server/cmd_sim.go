package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"scsweep/server/datadir"
	"scsweep/server/hostsim"
)

func init() {
	register("sim", "simulate N hosts (agents in this process) against a running sweeper, for load tests", runSim)
}

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "the running sweeper's data directory")
	hosts := fs.Int("hosts", 100, "how many hosts")
	rows := fs.Int("rows", 1000, "process starts per host (every tenth a ScreenConnect server child)")
	work := fs.String("work-dir", "", "where the hosts' databases go (default: a temporary folder)")
	prefix := fs.String("prefix", "sim", "host ids are PREFIX-00001, ...")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dataDir == "" || *hosts <= 0 {
		fmt.Fprintln(stderr, "usage: sweeper sim --data-dir DIR [--hosts N] [--rows N]")
		return 2
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(*dataDir, filepath.FromSlash(name)))
		return strings.TrimSpace(string(b)), err
	}
	url, err := read(agentURLFile)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper sim: no running sweeper in", *dataDir+":", err)
		return 1
	}
	secret, err1 := read(datadir.EnrollSecretFile)
	ca, err2 := read(datadir.CAFile)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "sweeper sim: reading the data dir:", err1, err2)
		return 1
	}
	dir := *work
	if dir == "" {
		if dir, err = os.MkdirTemp("", "scsweep-sim-"); err != nil {
			fmt.Fprintln(stderr, "sweeper sim:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	sim, err := hostsim.Start(ctx, hostsim.Config{Hosts: *hosts, RowsPerHost: *rows, Dir: dir, URL: url,
		CAPEM: []byte(ca + "\n"), EnrollSecret: secret, HostPrefix: *prefix})
	if err != nil {
		fmt.Fprintln(stderr, "sweeper sim:", err)
		return 1
	}
	defer sim.Stop()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err = sim.WaitConnected(wctx)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "sweeper sim:", err)
		return 1
	}
	fmt.Fprintf(stdout, "sweeper sim: %d hosts connected to %s in %s; Ctrl-C stops them\n", sim.Connected(), url, time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	return 0
}
