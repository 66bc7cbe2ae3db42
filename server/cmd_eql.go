package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"scsweep/extension/schema"
	"scsweep/server/eql"
	"scsweep/server/rules"
)

func init() {
	register("eql", "run an EQL query or rule over JSON events, or print its push-down SQL", runEQL)
}

// stdin is where `sweeper eql` reads events when no file is named.
var stdin io.Reader = os.Stdin

func runEQL(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	query := fs.String("query", "", "EQL query text")
	ruleFile := fs.String("rule", "", "Elastic detection rule (TOML) whose query to run")
	catField := fs.String("category-field", "event.category", "field holding the event category")
	tsField := fs.String("timestamp-field", "@timestamp", "field that orders results")
	tbField := fs.String("tiebreaker-field", "", "field that orders results with equal timestamps")
	ids := fs.String("ids", "", "print this field of each match instead of the whole event")
	sql := fs.Bool("sql", false, "print the SQL pushed down to process_lineage_events instead of running")
	from := fs.Int64("from", -1, "with --sql: window start, unix seconds")
	to := fs.Int64("to", -1, "with --sql: window end (exclusive), unix seconds")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sweeper eql (--query Q | --rule FILE.toml) [--category-field F] [--timestamp-field F] [--ids FIELD] [FILE...]")
		fmt.Fprintln(stderr, "       sweeper eql --sql (--query Q | --rule FILE.toml) [--from UNIX --to UNIX]")
		fmt.Fprintln(stderr, "Events are NDJSON or a JSON array, read from the files or from stdin; matches print as NDJSON in result order.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if (*query == "") == (*ruleFile == "") {
		fmt.Fprintln(stderr, "sweeper eql: give exactly one of --query and --rule")
		fs.Usage()
		return 2
	}
	opts := eql.Options{CategoryField: *catField, TimestampField: *tsField, TiebreakerField: *tbField}
	var q *eql.Query
	if *ruleFile != "" {
		r, err := rules.Load(*ruleFile)
		if err != nil {
			fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
			return 2
		}
		if q, err = eql.Compile(r.Query, opts); err != nil {
			fmt.Fprintf(stderr, "sweeper eql: rule %s: %v\n", r.Name, err)
			return 2
		}
	} else {
		var err error
		if q, err = eql.Compile(*query, opts); err != nil {
			fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
			return 2
		}
	}
	if *sql {
		return printSQL(q, *from, *to, stdout, stderr)
	}
	if *from >= 0 || *to >= 0 {
		fmt.Fprintln(stderr, "sweeper eql: --from and --to go with --sql")
		return 2
	}
	var matched []map[string]any
	collect := func(ev map[string]any) {
		if q.Match(ev) {
			matched = append(matched, ev)
		}
	}
	if fs.NArg() == 0 {
		if err := readEvents(stdin, "stdin", collect); err != nil {
			fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
			return 1
		}
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
			return 1
		}
		err = readEvents(f, name, collect)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
			return 1
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	for _, ev := range q.Finish(matched) {
		var line []byte
		var err error
		if *ids != "" {
			v := eql.Lookup(ev, *ids)
			if s, ok := v.(string); ok {
				line = []byte(s)
			} else {
				line, err = json.Marshal(v)
			}
		} else {
			line, err = json.Marshal(ev)
		}
		if err != nil {
			fmt.Fprintf(stderr, "sweeper eql: encode: %v\n", err)
			return 1
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "sweeper eql: write: %v\n", err)
		return 1
	}
	return 0
}

func printSQL(q *eql.Query, from, to int64, stdout, stderr io.Writer) int {
	table := &schema.ProcessLineageEvents
	var out string
	var err error
	switch {
	case from >= 0 && to >= 0:
		if to <= from {
			fmt.Fprintln(stderr, "sweeper eql: --to must be after --from")
			return 2
		}
		out, err = eql.WindowSQL(q, table, from, to)
	case from >= 0 || to >= 0:
		fmt.Fprintln(stderr, "sweeper eql: give both --from and --to, or neither")
		return 2
	default:
		var where string
		where, err = eql.PushDown(q, table)
		out = "SELECT * FROM " + table.Name + " WHERE " + where
	}
	if err != nil {
		fmt.Fprintf(stderr, "sweeper eql: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, out)
	return 0
}

// readEvents decodes a JSON array of objects or a stream of objects
// (NDJSON), keeping numbers exact, and hands each object to fn.
func readEvents(r io.Reader, name string, fn func(map[string]any)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dec := json.NewDecoder(br)
	dec.UseNumber()
	n := 0
	decodeOne := func() error {
		n++
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			return fmt.Errorf("%s: event %d: %w", name, n, err)
		}
		if ev == nil {
			return fmt.Errorf("%s: event %d: null is not an event object", name, n)
		}
		fn(ev)
		return nil
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for dec.More() {
			if err := decodeOne(); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%s: unterminated array: %w", name, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return fmt.Errorf("%s: data after the array", name)
		}
		return nil
	}
	for {
		n++
		var ev map[string]any
		err := dec.Decode(&ev)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: event %d: %w", name, n, err)
		}
		if ev == nil {
			return fmt.Errorf("%s: event %d: null is not an event object", name, n)
		}
		fn(ev)
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		if !bytes.ContainsAny(b, " \t\r\n") {
			return b[0], nil
		}
		br.ReadByte()
	}
}
