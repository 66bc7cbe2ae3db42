package main

import (
	"encoding/json"
	"fmt"
	"io"

	"scsweep/extension/config"
	"scsweep/extension/tables"
)

func init() {
	register("tables", "print the osquery table specs as JSON", runTables)
}

func runTables(args []string, stdout, stderr io.Writer) int {
	// Specs need no store: nil is never dereferenced by spec generation.
	ts, err := allTables(config.Default(), nil, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	specs := tables.Specs(ts)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(specs); err != nil {
		return 1
	}
	return 0
}
