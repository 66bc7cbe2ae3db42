// Command scsweep.ext is scsweep's osquery extension and its standalone tool:
// it serves process_lineage_events and the ScreenConnect tables to osqueryd.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one scsweep.ext subcommand. Each lives in its own cmd_*.go file and
// registers itself in init, so adding a command touches no other file.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// osqueryd starts an extension with flags only (--socket PATH --timeout N
	// --interval N --verbose): that is the serve command.
	if strings.HasPrefix(args[0], "-") {
		return commands["serve"].run(args, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "scsweep.ext: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: scsweep.ext [serve] --socket PATH [--timeout N] [--interval N] [--verbose] [--config FILE]")
	fmt.Fprintln(w, "       scsweep.ext COMMAND [flags] [args]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}
