package sweep

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"scsweep/server/hub"
	"scsweep/server/store"
	"scsweep/server/wire"
)

// Evidence is what the rule's investigation guide asks about an alert,
// gathered from its host while the host is answering, and kept in the alert
// (alerts are written once; the host's files may be gone tomorrow):
//
//   - siblings: other children of the same ScreenConnect.Service.exe;
//   - descendants: what the alerted process started;
//   - network: the child's open sockets (needs osqueryd's process_open_sockets);
//   - the server's artifacts: its version and signer, administrators
//     (CVE-2024-1709), suspicious App_Extensions files (CVE-2024-1708);
//   - related alerts: the host's other alerts in the 48 hours before.
//
// A pivot that fails (a table the host lacks) records its error instead.
type pivot struct {
	name string
	sql  string
}

// relatedWindow is how far back related alerts are listed, as the guide asks.
const relatedWindow = 48 * time.Hour

// maxEvidenceRows bounds each pivot's rows kept in an alert.
const maxEvidenceRows = 200

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func inList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quote(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// pivots builds the host's evidence queries from its matched events' rows.
func pivots(matches []match) []pivot {
	var parents, children, pids []string
	for _, m := range matches {
		parents = append(parents, m.row["parent_entity_id"])
		children = append(children, m.row["entity_id"])
		if _, err := strconv.ParseInt(m.row["pid"], 10, 64); err == nil {
			pids = append(pids, m.row["pid"])
		}
	}
	parents, children, pids = distinct(parents), distinct(children), distinct(pids)
	const procCols = "eid, datetime(time, 'unixepoch') AS started, pid, entity_id, name, pe_original_file_name, cmdline, path, parent_entity_id, parent_name, sha256, signature_status, signature_subject"
	var ps []pivot
	if len(parents) > 0 {
		ps = append(ps, pivot{"siblings", "SELECT " + procCols + " FROM process_lineage_events WHERE parent_entity_id IN " + inList(parents) + " ORDER BY time"})
	}
	if len(children) > 0 {
		ps = append(ps, pivot{"descendants", "SELECT " + procCols + " FROM process_lineage_events WHERE parent_entity_id IN " + inList(children) + " ORDER BY time"})
	}
	if len(pids) > 0 {
		ps = append(ps, pivot{"network", "SELECT pid, protocol, local_address, local_port, remote_address, remote_port, state FROM process_open_sockets WHERE pid IN (" + strings.Join(pids, ", ") + ")"})
	}
	return append(ps,
		pivot{"screenconnect_servers", "SELECT root, role, version, vulnerable, service_name, service_state, binary_path, binary_sha256, signature_status, signer_subject, signer_trusted FROM screenconnect_servers"},
		pivot{"screenconnect_admins", "SELECT root, name, email, roles, created, last_login, first_seen, path FROM screenconnect_users WHERE is_admin = 1"},
		pivot{"screenconnect_suspicious_files", "SELECT root, relative_path, kind, size, mtime, sha256, suspicion FROM screenconnect_extensions WHERE suspicion != ''"},
	)
}

// distinct drops empty and repeated values, keeping the first order.
func distinct(vals []string) []string {
	seen := map[string]bool{"": true}
	out := vals[:0]
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// gatherEvidence runs the pivots on every host with new alerts, all at
// once, and returns each host's evidence by pivot name.
func (s *Sweeper) gatherEvidence(ctx context.Context, byHost map[string][]match, timeout time.Duration) map[string]map[string]any {
	out := make(map[string]map[string]any, len(byHost))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for host, ms := range byHost {
		ev := map[string]any{}
		out[host] = ev
		for _, p := range pivots(ms) {
			wg.Add(1)
			go func(host string, p pivot) {
				defer wg.Done()
				val := s.runPivot(ctx, host, p, timeout)
				mu.Lock()
				ev[p.name] = val
				mu.Unlock()
			}(host, p)
		}
	}
	wg.Wait()
	return out
}

func (s *Sweeper) runPivot(ctx context.Context, host string, p pivot, timeout time.Duration) any {
	push, err := s.Hub.Push(ctx, []string{host}, p.sql, time.Now().Add(timeout))
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	res := push.Wait()
	if len(res) != 1 {
		return map[string]any{"error": fmt.Sprintf("%d answers", len(res))}
	}
	return evidenceValue(res[0])
}

func evidenceValue(hr hub.HostResult) any {
	if hr.Status != wire.StatusOK {
		msg := string(hr.Status)
		if hr.Error != "" {
			msg += ": " + hr.Error
		}
		return map[string]any{"error": msg}
	}
	rows := hr.Rows
	if rows == nil {
		rows = []map[string]string{}
	}
	v := map[string]any{"count": len(rows)}
	if len(rows) > maxEvidenceRows {
		rows = rows[:maxEvidenceRows]
		v["truncated"] = true
	}
	v["rows"] = rows
	return v
}

// relatedAlerts lists the host's stored alerts of the 48 hours before now.
func (s *Sweeper) relatedAlerts(ctx context.Context, host string, now time.Time) ([]map[string]any, error) {
	as, err := s.Store.Alerts(ctx, store.AlertFilter{HostID: host, Since: now.Add(-relatedWindow), Limit: maxEvidenceRows})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(as))
	for _, a := range as {
		out = append(out, map[string]any{"id": a.ID, "rule_id": a.RuleID, "severity": a.Severity, "time": a.Time.UTC().Format(time.RFC3339)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["time"].(string) > out[j]["time"].(string) })
	return out, nil
}

// attachEvidence puts a host's evidence into an alert document under
// scsweep.evidence, beside what the event itself carried under scsweep.
func attachEvidence(doc map[string]any, evidence map[string]any) {
	if evidence == nil {
		return
	}
	sc, ok := doc["scsweep"].(map[string]any)
	if !ok {
		sc = map[string]any{}
		doc["scsweep"] = sc
	}
	sc["evidence"] = evidence
}
