// Package rules loads Elastic detection rules (the TOML files of
// elastic/detection-rules) and builds Kibana-style alerts from the events
// they match.
//
// Only EQL rules with a single-event query run here; any other rule is
// refused with an error that names it. Keys the loader does not know are kept
// in Rule.Extra, so a newer rule format still loads.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"scsweep/extension/schema"
	"scsweep/server/eql"
)

// Defaults Kibana applies when a rule leaves them out.
const (
	DefaultInterval   = 5 * time.Minute
	DefaultFrom       = "now-6m"
	DefaultMaxSignals = 100
)

// ErrRefused marks a rule that is valid but cannot run here: not EQL, or not
// a single-event query.
var ErrRefused = errors.New("rule refused")

// Rule is one detection rule.
type Rule struct {
	Path     string         // file it came from, if any
	Metadata map[string]any // the [metadata] table as written

	RuleID            string
	Name              string
	Description       string
	Type              string
	Language          string
	Query             string
	Index             []string
	Interval          time.Duration
	From              string        // Kibana date math, "now-9m"
	Lookback          time.Duration // what From means: 9m for now-9m
	MaxSignals        int
	RiskScore         int
	Severity          string
	Threat            []Threat
	Note              string
	Setup             string
	Tags              []string
	References        []string
	Author            []string
	License           string
	FalsePositives    []string
	TimestampOverride string
	Version           int
	// InvestigationFields are the fields the rule asks an analyst to see first.
	InvestigationFields []string
	Investigate         []Investigate
	// Extra holds [rule] keys this loader does not interpret, as decoded.
	Extra map[string]any

	compiled *eql.Query
}

// Threat is one [[rule.threat]] entry: a MITRE ATT&CK tactic and techniques.
type Threat struct {
	Framework string      `toml:"framework" json:"framework"`
	Tactic    Tactic      `toml:"tactic" json:"tactic"`
	Technique []Technique `toml:"technique" json:"technique,omitempty"`
}

// Tactic is a MITRE ATT&CK tactic.
type Tactic struct {
	ID        string `toml:"id" json:"id"`
	Name      string `toml:"name" json:"name"`
	Reference string `toml:"reference" json:"reference"`
}

// Technique is a MITRE ATT&CK technique with its sub-techniques.
type Technique struct {
	ID           string      `toml:"id" json:"id"`
	Name         string      `toml:"name" json:"name"`
	Reference    string      `toml:"reference" json:"reference"`
	Subtechnique []Technique `toml:"subtechnique" json:"subtechnique,omitempty"`
}

// Investigate is one [[transform.investigate]] pivot of the rule's guide.
type Investigate struct {
	Label        string       `toml:"label" json:"label"`
	Description  string       `toml:"description" json:"description"`
	Providers    [][]Provider `toml:"providers" json:"providers"`
	RelativeFrom string       `toml:"relativeFrom" json:"relativeFrom"`
	RelativeTo   string       `toml:"relativeTo" json:"relativeTo"`
}

// Provider is one field condition of an Investigate pivot; Value may hold
// {{field}} placeholders filled from the alert.
type Provider struct {
	Excluded  bool   `toml:"excluded" json:"excluded"`
	Field     string `toml:"field" json:"field"`
	QueryType string `toml:"queryType" json:"queryType"`
	Value     string `toml:"value" json:"value"`
	ValueType string `toml:"valueType" json:"valueType"`
}

// file is the TOML layout.
type file struct {
	Metadata  map[string]any `toml:"metadata"`
	Rule      ruleTable      `toml:"rule"`
	Transform struct {
		Investigate []Investigate `toml:"investigate"`
	} `toml:"transform"`
}

type ruleTable struct {
	RuleID              string   `toml:"rule_id"`
	Name                string   `toml:"name"`
	Description         string   `toml:"description"`
	Type                string   `toml:"type"`
	Language            string   `toml:"language"`
	Query               string   `toml:"query"`
	Index               []string `toml:"index"`
	Interval            string   `toml:"interval"`
	From                string   `toml:"from"`
	MaxSignals          *int     `toml:"max_signals"`
	RiskScore           int      `toml:"risk_score"`
	Severity            string   `toml:"severity"`
	Threat              []Threat `toml:"threat"`
	Note                string   `toml:"note"`
	Setup               string   `toml:"setup"`
	Tags                []string `toml:"tags"`
	References          []string `toml:"references"`
	Author              []string `toml:"author"`
	License             string   `toml:"license"`
	FalsePositives      []string `toml:"false_positives"`
	TimestampOverride   string   `toml:"timestamp_override"`
	Version             int      `toml:"version"`
	InvestigationFields struct {
		FieldNames []string `toml:"field_names"`
	} `toml:"investigation_fields"`
}

// Load reads and compiles one rule file.
func Load(path string) (*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", filepath.Base(path), err)
	}
	r.Path = path
	return r, nil
}

// LoadDir loads every *.toml rule in dir. Rules that fail are reported
// together in the error, by file and name; the others are returned.
func LoadDir(dir string) ([]*Rule, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	sort.Strings(paths)
	var out []*Rule
	var errs []error
	for _, p := range paths {
		r, err := Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// Parse decodes a rule from TOML and compiles its query.
func Parse(data []byte) (*Rule, error) {
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	rt := f.Rule
	r := &Rule{
		Metadata: f.Metadata, RuleID: rt.RuleID, Name: rt.Name, Description: rt.Description,
		Type: rt.Type, Language: rt.Language, Query: rt.Query, Index: rt.Index,
		From: rt.From, RiskScore: rt.RiskScore, Severity: rt.Severity, Threat: rt.Threat,
		Note: rt.Note, Setup: rt.Setup, Tags: rt.Tags, References: rt.References, Author: rt.Author,
		License: rt.License, FalsePositives: rt.FalsePositives, TimestampOverride: rt.TimestampOverride,
		Version: rt.Version, InvestigationFields: rt.InvestigationFields.FieldNames,
		Investigate: f.Transform.Investigate, Extra: map[string]any{},
	}
	for _, k := range md.Undecoded() {
		if len(k) >= 2 && k[0] == "rule" {
			if rawRule, ok := raw["rule"].(map[string]any); ok {
				if v, ok := rawRule[k[1]]; ok {
					r.Extra[k[1]] = v
				}
			}
		}
	}
	label := r.label()
	if r.RuleID == "" {
		return nil, fmt.Errorf("rule %s: missing rule_id", label)
	}
	if r.Name == "" {
		return nil, fmt.Errorf("rule %s: missing name", label)
	}
	r.Interval = DefaultInterval
	if rt.Interval != "" {
		if r.Interval, err = parseDuration(rt.Interval); err != nil {
			return nil, fmt.Errorf("rule %s: interval: %w", label, err)
		}
	}
	if r.From == "" {
		r.From = DefaultFrom
	}
	if r.Lookback, err = parseFrom(r.From); err != nil {
		return nil, fmt.Errorf("rule %s: from: %w", label, err)
	}
	r.MaxSignals = DefaultMaxSignals
	if rt.MaxSignals != nil {
		if *rt.MaxSignals <= 0 {
			return nil, fmt.Errorf("rule %s: max_signals %d: want a positive number", label, *rt.MaxSignals)
		}
		r.MaxSignals = *rt.MaxSignals
	}
	if r.Type != "eql" {
		return nil, fmt.Errorf("rule %s: type %q is not eql: %w", label, r.Type, ErrRefused)
	}
	if r.Language != "" && r.Language != "eql" {
		return nil, fmt.Errorf("rule %s: language %q is not eql: %w", label, r.Language, ErrRefused)
	}
	if strings.TrimSpace(r.Query) == "" {
		return nil, fmt.Errorf("rule %s: empty query", label)
	}
	q, err := eql.Compile(r.Query, eql.Options{})
	if err != nil {
		if errors.Is(err, eql.ErrUnsupported) {
			return nil, fmt.Errorf("rule %s: not a single-event query: %w: %w", label, err, ErrRefused)
		}
		return nil, fmt.Errorf("rule %s: query: %w", label, err)
	}
	r.compiled = q
	return r, nil
}

func (r *Rule) label() string {
	switch {
	case r.Name != "" && r.RuleID != "":
		return fmt.Sprintf("%q (%s)", r.Name, r.RuleID)
	case r.Name != "":
		return strconv.Quote(r.Name)
	case r.RuleID != "":
		return r.RuleID
	}
	return "(unnamed)"
}

// CompiledQuery returns the compiled query, for push-down and ordering.
func (r *Rule) CompiledQuery() *eql.Query { return r.compiled }

// Match reports whether an ECS event satisfies the rule's query.
func (r *Rule) Match(ev map[string]any) bool { return r.compiled.Match(ev) }

// Window returns the look-back window of a run at now: [now-Lookback, now).
func (r *Rule) Window(now time.Time) (from, to time.Time) {
	return now.Add(-r.Lookback), now
}

// SQL returns the query a host runs for the rule's window at now: the rows
// of table in [now-Lookback, now) that may match (see eql.PushDown).
func (r *Rule) SQL(table *schema.Table, now time.Time) (string, error) {
	from, to := r.Window(now)
	return eql.WindowSQL(r.compiled, table, from.Unix(), to.Unix())
}

var durationRE = regexp.MustCompile(`^(\d+)([smhd])$`)

// parseDuration reads Kibana's interval syntax: a count and s, m, h or d.
func parseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q: want a number and s, m, h or d", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive count", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// parseFrom reads the date math of `from`: now-<duration>.
func parseFrom(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "now-") {
		return 0, fmt.Errorf("%q: want now-<count><s|m|h|d>", s)
	}
	return parseDuration(strings.TrimPrefix(t, "now-"))
}
