package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"scsweep/extension/ingest"
	"scsweep/extension/source"
)

func init() {
	register("import", "load process start records from files into the event store", runImport)
}

func runImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var c common
	c.register(fs)
	format := fs.String("format", "auto", "record format: "+strings.Join(source.Formats(), ", "))
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: scsweep.ext import [--format F] [--events-db FILE] FILE...")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "formats:")
		for _, f := range source.Formats() {
			fmt.Fprintf(stderr, "  %-26s %s\n", f, source.FormatHelp(f))
		}
	}
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := c.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	store, err := openStore(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer store.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	id, err := newPEIdentity(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer id.Close()
	p := &ingest.Pipeline{Store: store, Enrich: id.enrich}
	code := 0
	for _, path := range fs.Args() {
		res, err := p.ImportFile(ctx, path, *format)
		printSummary(stdout, path, res)
		if err != nil {
			fmt.Fprintf(stderr, "import %s: %v\n", path, err)
			code = 1
		}
	}
	return code
}

// printSummary says what happened to every record of a file.
func printSummary(w io.Writer, path string, r ingest.Result) {
	skipped := 0
	for _, n := range r.Skipped {
		skipped += n
	}
	fmt.Fprintf(w, "%s: %d records: %d imported, %d already in the store, %d skipped\n",
		path, r.Records, r.New, r.Duplicates, skipped)
	for _, k := range sortedKeys(r.Skipped) {
		fmt.Fprintf(w, "  skipped %d: %s\n", r.Skipped[k], k)
	}
	for _, k := range sortedKeys(r.Notes) {
		fmt.Fprintf(w, "  note %d: %s\n", r.Notes[k], k)
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
