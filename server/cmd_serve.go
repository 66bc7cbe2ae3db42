package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"scsweep/server/api"
	"scsweep/server/datadir"
	"scsweep/server/hub"
	"scsweep/server/rules"
	"scsweep/server/store"
	"scsweep/server/sweep"
)

func init() {
	register("serve", "run the sweeper: agents' websocket endpoint, scheduled rule sweeps, the API", runServe)
}

// apiAddrFile and agentURLFile, in the data dir, tell the command-line
// client where the running sweeper's API listens and the simulator where
// agents connect.
const (
	apiAddrFile  = "api_addr"
	agentURLFile = "agent_url"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data directory (created on first start)")
	listen := fs.String("listen", ":8443", "address agents connect to (TLS websocket)")
	apiListen := fs.String("api-listen", "127.0.0.1:8444", "address of the HTTP API (loopback unless --api-anywhere)")
	apiAnywhere := fs.Bool("api-anywhere", false, "allow the API on a non-loopback address")
	rulesDir := fs.String("rules", "", "folder of extra detection-rules TOML files")
	var certHosts multiFlag
	fs.Var(&certHosts, "cert-host", "DNS name or IP the server certificate is valid for (repeatable; on first start)")
	noSchedule := fs.Bool("no-schedule", false, "do not sweep on the rules' intervals (sweeps only on request)")
	verbose := fs.Bool("verbose", false, "log every sweep and connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "sweeper serve: --data-dir is required")
		return 2
	}
	level := slog.LevelInfo
	if !*verbose {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if !*apiAnywhere {
		if err := api.CheckLoopback(*apiListen); err != nil {
			fmt.Fprintln(stderr, "sweeper serve:", err, "(use --api-anywhere to allow it)")
			return 2
		}
	}
	if err := serve(*dataDir, *listen, *apiListen, *rulesDir, certHosts, !*noSchedule, logger, stdout); err != nil {
		fmt.Fprintln(stderr, "sweeper serve:", err)
		return 1
	}
	return 0
}

func serve(dataDir, listen, apiListen, rulesDir string, certHosts []string, schedule bool, logger *slog.Logger, stdout io.Writer) error {
	dir, err := datadir.Open(dataDir, datadir.Options{Hosts: certHosts})
	if err != nil {
		return err
	}
	st, err := store.Open(dir.DatabasePath())
	if err != nil {
		return err
	}
	defer st.Close()
	rs, err := loadRules(rulesDir, logger)
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Config{EnrollSecret: dir.EnrollSecret, SigningKey: dir.SigningKey, Store: st, Logger: logger})
	if err != nil {
		return err
	}
	defer h.Close()
	sw := &sweep.Sweeper{Hub: h, Store: st, Rules: rs, Logger: logger, Evidence: true}

	agentLn, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	agentMux := http.NewServeMux()
	agentMux.Handle("/", h)
	agentSrv := &http.Server{Handler: agentMux, TLSConfig: dir.TLSConfig(), ErrorLog: log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 10 * time.Second}
	go agentSrv.ServeTLS(agentLn, "", "")
	defer agentSrv.Close()

	apiHandler, err := api.New(api.Config{Token: dir.APIToken, Hub: h, Store: st, Logger: logger})
	if err != nil {
		return err
	}
	apiMux := http.NewServeMux()
	apiMux.Handle("/api/", apiHandler)
	apiMux.Handle("/api/sweeps", api.SweepHandler(dir.APIToken, func(ctx context.Context, ruleID string) (any, error) {
		if ruleID == "" {
			return sw.SweepAll(ctx)
		}
		r, ok := sw.Rule(ruleID)
		if !ok {
			return nil, fmt.Errorf("no rule %q", ruleID)
		}
		res, err := sw.Sweep(ctx, r)
		return []sweep.Result{res}, err
	}))
	apiLn, err := net.Listen("tcp", apiListen)
	if err != nil {
		return err
	}
	apiSrv := &http.Server{Handler: apiMux, ReadHeaderTimeout: 10 * time.Second}
	go apiSrv.Serve(apiLn)
	defer apiSrv.Close()
	if err := os.WriteFile(filepath.Join(dataDir, agentURLFile), []byte("wss://"+agentLn.Addr().String()+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dataDir, apiAddrFile), []byte("http://"+apiLn.Addr().String()+"\n"), 0o600); err != nil {
		return err
	}

	for _, f := range dir.Created {
		fmt.Fprintf(stdout, "created %s\n", dir.File(f))
	}
	fmt.Fprintf(stdout, "sweeper: agents connect to wss://%s (CA %s, enroll secret %s)\n", agentLn.Addr(), dir.File(datadir.CAFile), dir.File(datadir.EnrollSecretFile))
	fmt.Fprintf(stdout, "sweeper: API on http://%s (token in %s)\n", apiLn.Addr(), dir.File(datadir.APITokenFile))
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = fmt.Sprintf("%s (every %s)", r.Name, r.Interval)
	}
	fmt.Fprintf(stdout, "sweeper: %d rules: %s\n", len(rs), strings.Join(names, "; "))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if schedule {
		go sw.Run(ctx)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "sweeper: stopping")
	return nil
}

// loadRules is the bundled rules plus those of dir; a rule in dir with a
// bundled rule's id replaces it.
func loadRules(dir string, logger *slog.Logger) ([]*rules.Rule, error) {
	rs, err := rules.Bundled()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return rs, nil
	}
	extra, err := rules.LoadDir(dir)
	if err != nil && len(extra) == 0 {
		return nil, err
	}
	if err != nil {
		logger.Warn("some rules were refused", "err", err)
	}
	byID := map[string]int{}
	for i, r := range rs {
		byID[r.RuleID] = i
	}
	for _, r := range extra {
		if i, ok := byID[r.RuleID]; ok {
			rs[i] = r
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, errors.New("no rules to run")
	}
	return rs, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
