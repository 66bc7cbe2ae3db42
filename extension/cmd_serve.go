package main

import (
	"context"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osquery "github.com/osquery/osquery-go"

	"scsweep/extension/agent"
	"scsweep/extension/events"
	"scsweep/extension/tables"
)

func init() {
	register("serve", "run as an osquery extension (what osqueryd starts), or --standalone", runServe)
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	// The flags osqueryd passes to every extension it autoloads.
	socket := fs.String("socket", "", "osquery extension manager socket (osqueryd passes it)")
	timeout := fs.Int("timeout", 3, "seconds to wait for the osquery socket (osqueryd passes it)")
	interval := fs.Int("interval", 3, "seconds between pings of osqueryd (osqueryd passes it)")
	verbose := fs.Bool("verbose", false, "verbose logging (osqueryd passes it)")
	// The sweeper's agent.
	standalone := fs.Bool("standalone", false, "no osqueryd: answer the sweeper from the extension's own tables")
	sweeperURL := fs.String("sweeper", "", "sweeper to connect to, wss://HOST:PORT")
	secretFile := fs.String("enroll-secret-file", "", "file holding the sweeper's enroll secret")
	caFile := fs.String("ca-file", "", "the sweeper's CA certificate (PEM): the only root trusted")
	hostID := fs.String("host-identifier", "", "host id (default: the machine's UUID, as osquery's host_identifier=uuid)")
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	logger := log.New(stderr, "scsweep.ext: ", log.LstdFlags)
	if *socket == "" && !*standalone {
		logger.Print("--socket is required (osqueryd passes it; see the README), or --standalone")
		return 2
	}
	if *standalone && *sweeperURL == "" {
		logger.Print("--standalone needs --sweeper: standalone, the extension only answers a sweeper")
		return 2
	}
	cfg, err := c.load()
	if err != nil {
		logger.Print(err)
		return 1
	}
	store, err := openStore(cfg)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer store.Close()
	id, err := newPEIdentity(cfg)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer id.Close()
	ts, err := allTables(cfg, store, id)
	if err != nil {
		logger.Print(err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go retain(ctx, store, logger)
	defer startLive(ctx, store, id, logger)() // stops collection before the store closes

	var runner agent.Runner
	if *standalone {
		eng, err := tables.NewEngine(ts...)
		if err != nil {
			logger.Print(err)
			return 1
		}
		defer eng.Close()
		runner = func(ctx context.Context, sql string) ([]map[string]string, error) {
			res, err := eng.Query(ctx, sql)
			if err != nil {
				return nil, err
			}
			return res.Maps(), nil
		}
	} else {
		runner = osqueryRunner(*socket, time.Duration(*timeout)*time.Second)
	}
	agentDone := make(chan error, 1)
	if *sweeperURL != "" {
		acfg, err := agent.FromFiles(*sweeperURL, *secretFile, *caFile, *hostID)
		if err != nil {
			logger.Print(err)
			return 1
		}
		acfg.StateDir = filepath.Join(filepath.Dir(cfg.EventsDB), "agent")
		acfg.AgentVersion = version
		level := slog.LevelWarn
		if *verbose {
			level = slog.LevelInfo
		}
		acfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		go func() { agentDone <- agent.Run(ctx, acfg, runner) }()
	}
	if *standalone {
		if *verbose {
			logger.Printf("standalone: %d tables, events in %s, answering %s", len(ts), cfg.EventsDB, *sweeperURL)
		}
		select {
		case <-ctx.Done():
			return 0
		case err := <-agentDone:
			if err != nil && ctx.Err() == nil {
				logger.Print(err)
				return 1
			}
			return 0
		}
	}

	// Without a bound, stopping waits for osqueryd to close every connection;
	// a shutdown request must end the process even if one lingers.
	thrift.ServerStopTimeout = 2 * time.Second
	srv, err := osquery.NewExtensionManagerServer("scsweep", *socket,
		osquery.ServerTimeout(time.Duration(*timeout)*time.Second),
		osquery.ServerPingInterval(time.Duration(*interval)*time.Second),
		osquery.ExtensionVersion(version),
		// Buffered: one write per response instead of one per thrift field.
		osquery.WithTransportFactory(thrift.NewTBufferedTransportFactory(64<<10)),
	)
	if err != nil {
		logger.Printf("connecting to osqueryd at %s: %v", *socket, err)
		return 1
	}
	for _, t := range ts {
		srv.RegisterPlugin(t.Plugin(cfg.GenerateTimeout.Duration))
	}
	if *verbose {
		logger.Printf("serving %d tables on %s, events in %s", len(ts), *socket, cfg.EventsDB)
	}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Run(); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

// osqueryRunner runs the sweeper's queries through osqueryd, so they see
// every osquery table, with a fresh client per query: after a thrift
// timeout a client's connection is out of step and cannot be reused.
func osqueryRunner(socket string, timeout time.Duration) agent.Runner {
	return func(ctx context.Context, sql string) ([]map[string]string, error) {
		c, err := osquery.NewClient(socket, timeout)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.QueryRowsContext(ctx, sql)
	}
}

// retain applies the store's retention now and every hour.
func retain(ctx context.Context, store *events.Store, logger *log.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := store.Prune(ctx, time.Now()); err != nil {
			logger.Printf("retention: %v", err)
		} else if n > 0 {
			logger.Printf("retention: removed %d events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
