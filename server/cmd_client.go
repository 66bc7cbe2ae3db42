package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"scsweep/server/api"
	"scsweep/server/datadir"
)

func init() {
	register("hunt", "run SQL on every host now and print the rows", runHunt)
	register("sweep", "run the rules' sweep now", runSweep)
	register("alerts", "list alerts, newest first", runAlerts)
	register("hosts", "list enrolled hosts", runHosts)
}

// client talks to a running sweeper's API, found through its data dir.
type client struct {
	base, token string
	http        *http.Client
}

func newClient(dataDir string) (*client, error) {
	if dataDir == "" {
		return nil, errors.New("--data-dir is required (the running sweeper's)")
	}
	addr, err := os.ReadFile(filepath.Join(dataDir, apiAddrFile))
	if err != nil {
		return nil, fmt.Errorf("no running sweeper found in %s: %w", dataDir, err)
	}
	token, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(datadir.APITokenFile)))
	if err != nil {
		return nil, fmt.Errorf("API token: %w", err)
	}
	return &client{base: strings.TrimSpace(string(addr)), token: strings.TrimSpace(string(token)), http: &http.Client{}}, nil
}

func (c *client) do(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sweeper API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return nil, fmt.Errorf("sweeper API: %s: %s", resp.Status, e.Error)
	}
	return resp, nil
}

func clientFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "the running sweeper's data directory")
	asJSON := fs.Bool("json", false, "print NDJSON (ECS names) instead of a table")
	return fs, dataDir, asJSON
}

func runHunt(args []string, stdout, stderr io.Writer) int {
	fs, dataDir, asJSON := clientFlags("hunt", stderr)
	hosts := fs.String("hosts", "", "comma-separated host ids (default: every enrolled host)")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for hosts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sql := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(sql) == "" {
		fmt.Fprintln(stderr, "usage: sweeper hunt --data-dir DIR [--hosts a,b] [--timeout D] [--json] SQL")
		return 2
	}
	c, err := newClient(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper hunt:", err)
		return 1
	}
	req := api.HuntRequest{SQL: sql, Timeout: timeout.String()}
	if *hosts != "" {
		req.Hosts = strings.Split(*hosts, ",")
	}
	resp, err := c.do("POST", "/api/hunts", req)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper hunt:", err)
		return 1
	}
	var last api.HuntProgress
	live := isTerminal(stderr)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			continue
		}
		// The progress bar goes to stderr so stdout stays the rows.
		if live {
			fmt.Fprintf(stderr, "\rhosts %d/%d answered, %d failed, %d rows", last.Answered, last.Targeted, last.Failed, last.Rows)
		}
	}
	resp.Body.Close()
	if !live {
		fmt.Fprintf(stderr, "hosts %d/%d answered, %d failed, %d rows", last.Answered, last.Targeted, last.Failed, last.Rows)
	}
	fmt.Fprintln(stderr)
	if last.Error != "" {
		fmt.Fprintln(stderr, "sweeper hunt:", last.Error)
		return 1
	}
	rows, err := c.do("GET", "/api/hunts/"+url.PathEscape(last.HuntID)+"/rows", nil)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper hunt:", err)
		return 1
	}
	defer rows.Body.Close()
	if err := printLines(stdout, rows.Body, *asJSON, nil); err != nil {
		fmt.Fprintln(stderr, "sweeper hunt:", err)
		return 1
	}
	return 0
}

func runSweep(args []string, stdout, stderr io.Writer) int {
	fs, dataDir, asJSON := clientFlags("sweep", stderr)
	rule := fs.String("rule", "", "rule id (default: every rule)")
	fs.Bool("wait", true, "wait for the sweep to finish (it always does)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := newClient(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper sweep:", err)
		return 1
	}
	resp, err := c.do("POST", "/api/sweeps?rule="+url.QueryEscape(*rule), nil)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper sweep:", err)
		return 1
	}
	defer resp.Body.Close()
	var out struct {
		Results []map[string]any `json:"results"`
		Error   string           `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		fmt.Fprintln(stderr, "sweeper sweep:", err)
		return 1
	}
	for _, r := range out.Results {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
			continue
		}
		fmt.Fprintf(stdout, "%s: %v hosts, %v answered, %v rows, %v matches, %v new alerts, %v dropped over max_signals\n",
			r["rule_name"], r["hosts"], r["answered"], r["rows"], r["matches"], r["created"], r["dropped"])
		if failed, ok := r["failed"].([]any); ok {
			for _, f := range failed {
				fmt.Fprintf(stdout, "  no answer: %v\n", f)
			}
		}
	}
	if out.Error != "" {
		fmt.Fprintln(stderr, "sweeper sweep:", out.Error)
		return 1
	}
	return 0
}

// alertColumns are what a person reads first in an alert.
var alertColumns = []string{"@timestamp", "host.id", "kibana.alert.severity", "process.parent.name", "process.name",
	"process.pe.original_file_name", "process.command_line", "process.code_signature.status"}

func runAlerts(args []string, stdout, stderr io.Writer) int {
	fs, dataDir, asJSON := clientFlags("alerts", stderr)
	host := fs.String("host", "", "only this host")
	rule := fs.String("rule", "", "only this rule id")
	limit := fs.Int("limit", 0, "at most this many")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := newClient(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper alerts:", err)
		return 1
	}
	q := url.Values{}
	if *host != "" {
		q.Set("host", *host)
	}
	if *rule != "" {
		q.Set("rule", *rule)
	}
	if *limit > 0 {
		q.Set("limit", fmt.Sprint(*limit))
	}
	resp, err := c.do("GET", "/api/alerts?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper alerts:", err)
		return 1
	}
	defer resp.Body.Close()
	if err := printLines(stdout, resp.Body, *asJSON, alertColumns); err != nil {
		fmt.Fprintln(stderr, "sweeper alerts:", err)
		return 1
	}
	return 0
}

func runHosts(args []string, stdout, stderr io.Writer) int {
	fs, dataDir, asJSON := clientFlags("hosts", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, err := newClient(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper hosts:", err)
		return 1
	}
	resp, err := c.do("GET", "/api/hosts", nil)
	if err != nil {
		fmt.Fprintln(stderr, "sweeper hosts:", err)
		return 1
	}
	defer resp.Body.Close()
	if err := printLines(stdout, resp.Body, *asJSON, []string{"host.id", "host.hostname", "online", "last_seen", "agent.version", "osquery.version"}); err != nil {
		fmt.Fprintln(stderr, "sweeper hosts:", err)
		return 1
	}
	return 0
}

// printLines copies NDJSON through, or prints it as a table of cols (all
// keys, sorted, when cols is nil). Nested documents are read by dotted
// path.
func printLines(w io.Writer, r io.Reader, asJSON bool, cols []string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	if asJSON {
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
		}
		return sc.Err()
	}
	var docs []map[string]any
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return fmt.Errorf("bad line from the API: %w", err)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if cols == nil {
		seen := map[string]bool{}
		for _, d := range docs {
			for k := range d {
				if !seen[k] {
					seen[k] = true
					cols = append(cols, k)
				}
			}
		}
		sort.Slice(cols, func(i, j int) bool {
			// The host first: it is what a fleet-wide answer is read by.
			if (cols[i] == "host.id") != (cols[j] == "host.id") {
				return cols[i] == "host.id"
			}
			return cols[i] < cols[j]
		})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, d := range docs {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cell(dotted(d, c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	fmt.Fprintf(tw, "(%d)\n", len(docs))
	return tw.Flush()
}

func dotted(d map[string]any, path string) any {
	if v, ok := d[path]; ok {
		return v
	}
	var cur any = d
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func cell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		s = x
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	s = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

// isTerminal says whether w is a terminal, where a progress bar may redraw
// itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
