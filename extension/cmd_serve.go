package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	osquery "github.com/osquery/osquery-go"

	"scsweep/extension/events"
)

func init() {
	register("serve", "run as an osquery extension (what osqueryd starts)", runServe)
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
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	logger := log.New(stderr, "scsweep.ext: ", log.LstdFlags)
	if *socket == "" {
		logger.Print("--socket is required (osqueryd passes it; see the README)")
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
	for _, t := range ts {
		srv.RegisterPlugin(t.Plugin(cfg.GenerateTimeout.Duration))
	}
	if *verbose {
		logger.Printf("serving %d tables on %s, events in %s", len(ts), *socket, cfg.EventsDB)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go retain(ctx, store, logger)
	defer startLive(ctx, store, id, logger)() // stops collection before the store closes
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
