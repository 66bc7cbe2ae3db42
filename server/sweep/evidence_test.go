package sweep

import (
	"strings"
	"testing"
)

func TestPivotsQuoteHostValues(t *testing.T) {
	ms := []match{
		{row: map[string]string{"parent_entity_id": "{p1}", "entity_id": "x' OR '1'='1", "pid": "42"}},
		{row: map[string]string{"parent_entity_id": "{p1}", "entity_id": "{c2}", "pid": "not-a-number"}},
	}
	got := map[string]string{}
	for _, p := range pivots(ms) {
		got[p.name] = p.sql
	}
	if !strings.Contains(got["siblings"], "parent_entity_id IN ('{p1}')") {
		t.Errorf("siblings: parents not deduplicated or quoted: %s", got["siblings"])
	}
	if !strings.Contains(got["descendants"], "IN ('x'' OR ''1''=''1', '{c2}')") {
		t.Errorf("descendants: a quote in a host's value must be escaped: %s", got["descendants"])
	}
	if !strings.Contains(got["network"], "pid IN (42)") {
		t.Errorf("network: only numeric pids belong in the list: %s", got["network"])
	}
	for _, name := range []string{"screenconnect_servers", "screenconnect_admins", "screenconnect_suspicious_files"} {
		if got[name] == "" {
			t.Errorf("pivot %s missing", name)
		}
	}
}
