package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"scsweep/extension/config"
	"scsweep/extension/events"
	"scsweep/extension/screenconnect"
	"scsweep/extension/tables"
)

// common holds the flags every command that opens the store shares: the
// config file and the settings a flag may override.
type common struct {
	configPath string
	eventsDB   string
	scRoots    multiFlag
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "config file (default "+config.DefaultPath()+")")
	fs.StringVar(&c.eventsDB, "events-db", "", "event store file (overrides events_db)")
	fs.Var(&c.scRoots, "screenconnect-root", "ScreenConnect install root to scan (repeatable; adds to screenconnect_roots)")
}

func (c *common) load() (config.Config, error) {
	path, required := c.configPath, true
	if path == "" {
		path, required = config.DefaultPath(), false
	}
	cfg, err := config.Load(path, required)
	if err != nil {
		return cfg, err
	}
	if c.eventsDB != "" {
		cfg.EventsDB = c.eventsDB
	}
	cfg.ScreenConnectRoots = append(cfg.ScreenConnectRoots, c.scRoots...)
	return cfg, nil
}

func openStore(cfg config.Config) (*events.Store, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.EventsDB), 0o700); err != nil {
		return nil, fmt.Errorf("event store: %w", err)
	}
	return events.Open(cfg.EventsDB, events.Options{MaxAge: cfg.RetentionMaxAge.Duration, MaxBytes: cfg.RetentionMaxBytes})
}

// allTables is every table the extension serves, over an open store (nil
// when only the specs are wanted).
func allTables(cfg config.Config, store *events.Store, id *peIdentity) ([]tables.Table, error) {
	var firstSeen *screenconnect.FirstSeen
	if store != nil {
		if err := screenconnect.InitFirstSeen(store.DB()); err != nil {
			return nil, err
		}
		firstSeen = screenconnect.NewFirstSeen(store.DB())
	}
	sc := screenconnect.Options{
		Roots: cfg.ScreenConnectRoots,
		// Leave the scan time to finish its rows before the generate bound.
		Timeout: cfg.GenerateTimeout.Duration * 4 / 5,
	}
	if id != nil {
		sc.Identify = id.scIdentify
	}
	ts := []tables.Table{tables.ProcessLineageEvents(store, cfg.MaxRows), tables.Status(store, collectorStatus)}
	return append(ts, tables.ScreenConnect(sc, firstSeen)...), nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parse parses flags, printing errors to stderr; ok false means exit with code.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
