package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"
)

// AlertID is the alert's deterministic id: hex SHA-256 over the host id, the
// event id and the rule id, each preceded by its length so that no two
// different triples hash the same input. The same event seen twice by the
// same rule on the same host gets the same id, which is what makes storing
// alerts create-only a dedupe.
func AlertID(hostID, eventID, ruleID string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{hostID, eventID, ruleID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Alert is an alert document: the source event's ECS fields (nested, as
// the event had them) plus flat kibana.alert.* fields, as Kibana writes them.
type Alert map[string]any

// ID returns the alert's id.
func (a Alert) ID() string { s, _ := a["kibana.alert.uuid"].(string); return s }

// BuildAlert makes the alert for one matching event of host hostID, created
// at now. The event's own fields are copied, never shared.
func BuildAlert(r *Rule, hostID string, event map[string]any, now time.Time) Alert {
	a := Alert(deepCopy(event))
	eventID := stringField(event, "event.id")
	id := AlertID(hostID, eventID, r.RuleID)
	if hostID != "" && stringField(event, "host.id") == "" {
		setNested(a, "host.id", hostID)
	}
	original := map[string]any{}
	if ev, ok := event["event"].(map[string]any); ok {
		for k, v := range ev {
			original["kibana.alert.original_event."+k] = deepCopyValue(v)
		}
	}
	maps.Copy(a, original)
	if ts, ok := lookup(event, "@timestamp"); ok {
		a["kibana.alert.original_time"] = ts
	}
	a["@timestamp"] = now.UTC().Format(time.RFC3339Nano)
	setNested(a, "event.kind", "signal")
	a["kibana.alert.uuid"] = id
	a["kibana.alert.status"] = "active"
	a["kibana.alert.workflow_status"] = "open"
	a["kibana.alert.depth"] = 1
	a["kibana.alert.severity"] = r.Severity
	a["kibana.alert.risk_score"] = r.RiskScore
	a["kibana.alert.reason"] = Reason(r, event)
	a["kibana.alert.ancestors"] = []any{map[string]any{"id": eventID, "type": "event", "depth": 0}}
	a["kibana.alert.rule.rule_id"] = r.RuleID
	a["kibana.alert.rule.uuid"] = r.RuleID
	a["kibana.alert.rule.name"] = r.Name
	a["kibana.alert.rule.description"] = r.Description
	a["kibana.alert.rule.type"] = r.Type
	a["kibana.alert.rule.category"] = "Event Correlation Rule"
	a["kibana.alert.rule.severity"] = r.Severity
	a["kibana.alert.rule.risk_score"] = r.RiskScore
	a["kibana.alert.rule.interval"] = FormatInterval(r.Interval)
	a["kibana.alert.rule.from"] = r.From
	a["kibana.alert.rule.max_signals"] = r.MaxSignals
	a["kibana.alert.rule.query"] = r.Query
	a["kibana.alert.rule.language"] = "eql"
	a["kibana.alert.rule.version"] = r.Version
	if len(r.Tags) > 0 {
		a["kibana.alert.rule.tags"] = append([]string(nil), r.Tags...)
	}
	if len(r.References) > 0 {
		a["kibana.alert.rule.references"] = append([]string(nil), r.References...)
	}
	if len(r.Threat) > 0 {
		a["kibana.alert.rule.threat"] = append([]Threat(nil), r.Threat...)
	}
	if len(r.InvestigationFields) > 0 {
		a["kibana.alert.rule.investigation_fields"] = append([]string(nil), r.InvestigationFields...)
	}
	return a
}

// Reason writes the alert's reason in Kibana's style: the event category,
// the process, parent, file, source and destination when present, the user
// and host, and "created <severity> alert <rule name>."
func Reason(r *Rule, event map[string]any) string {
	var b strings.Builder
	if cat := joinedField(event, "event.category"); cat != "" {
		b.WriteString(cat)
		b.WriteByte(' ')
	}
	b.WriteString("event")
	var with []string
	if v := stringField(event, "process.name"); v != "" {
		with = append(with, "process "+v)
	}
	if v := stringField(event, "process.parent.name"); v != "" {
		with = append(with, "parent process "+v)
	}
	if v := stringField(event, "file.name"); v != "" {
		with = append(with, "file "+v)
	}
	if v := endpoint(event, "source"); v != "" {
		with = append(with, "source "+v)
	}
	if v := endpoint(event, "destination"); v != "" {
		with = append(with, "destination "+v)
	}
	if len(with) > 0 {
		b.WriteString(" with ")
		b.WriteString(strings.Join(with, ", "))
		b.WriteByte(',')
	}
	if v := stringField(event, "user.name"); v != "" {
		b.WriteString(" by " + v)
	}
	if v := stringField(event, "host.name"); v != "" {
		b.WriteString(" on " + v)
	}
	fmt.Fprintf(&b, " created %s alert %s.", r.Severity, r.Name)
	return b.String()
}

func endpoint(event map[string]any, prefix string) string {
	ip := stringField(event, prefix+".ip")
	if ip == "" {
		return ""
	}
	if port := stringField(event, prefix+".port"); port != "" {
		return ip + ":" + port
	}
	return ip
}

// lookup finds a dotted field stored nested, flat or mixed.
func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// stringField renders a scalar field (the first element of an array).
func stringField(m map[string]any, path string) string {
	v, ok := lookup(m, path)
	if !ok {
		return ""
	}
	if arr, ok := v.([]any); ok {
		if len(arr) == 0 {
			return ""
		}
		v = arr[0]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		return ""
	}
	return fmt.Sprint(v)
}

func joinedField(m map[string]any, path string) string {
	v, ok := lookup(m, path)
	if !ok {
		return ""
	}
	arr, ok := v.([]any)
	if !ok {
		return stringField(m, path)
	}
	parts := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, ok := e.(string); ok && s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func setNested(m map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+32)
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopy(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyValue(e)
		}
		return out
	}
	return v
}

// FormatInterval writes a duration as Kibana writes rule intervals: 5m, 1h, 30s.
func FormatInterval(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
