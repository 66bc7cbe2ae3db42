package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"scsweep/extension/tables"
)

func init() {
	register("query", "run osquery SQL over the extension's tables without osqueryd", runQuery)
}

func runQuery(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per row instead of a table")
	file := fs.String("file", "", "read the SQL from this file instead of the arguments")
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	query := strings.Join(fs.Args(), " ")
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		query = string(b)
	}
	if strings.TrimSpace(query) == "" {
		fmt.Fprintln(stderr, "usage: scsweep.ext query [--json] [--events-db FILE] (SQL | --file FILE)")
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
	id, err := newPEIdentity(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer id.Close()
	ts, err := allTables(cfg, store, id)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	eng, err := tables.NewEngine(ts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer eng.Close()
	res, err := eng.Query(context.Background(), query)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	write := writeTable
	if *asJSON {
		write = writeNDJSON
	}
	if err := write(stdout, res); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// writeNDJSON prints each row as a JSON object with keys in select order.
func writeNDJSON(w io.Writer, res *tables.Result) error {
	var b bytes.Buffer
	for _, row := range res.Rows {
		b.Reset()
		b.WriteByte('{')
		for i, col := range res.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(col)
			v, _ := json.Marshal(row[i])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteString("}\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// maxCell keeps one long command line from pushing a table off the screen;
// --json prints values whole.
const maxCell = 100

// writeTable prints the rows as an aligned text table for people.
func writeTable(w io.Writer, res *tables.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			v = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(v)
			if r := []rune(v); len(r) > maxCell {
				v = string(r[:maxCell-1]) + "…"
			}
			cells[i] = v
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
