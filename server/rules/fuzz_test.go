package rules

import (
	"testing"
)

// FuzzParse: rule files are outside input; no file makes the loader panic,
// and a rule that loads has its query compiled and its defaults set.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[rule]\nrule_id = \"r\"\nname = \"n\"\ntype = \"eql\"\nquery = 'process where true'\n"))
	f.Add([]byte("[rule]\nrule_id = \"r\"\nname = \"n\"\ntype = \"eql\"\ninterval = \"1h\"\nfrom = \"now-2d\"\nmax_signals = 5\nquery = '''\nany where a : \"*\"\n'''\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[rule.threat.tactic]\nid = \"TA0001\"\n"))
	f.Add([]byte("[rule]\ntype = \"query\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if r.CompiledQuery() == nil || r.Interval <= 0 || r.Lookback <= 0 || r.MaxSignals <= 0 {
			t.Fatalf("loaded rule without query or defaults: %+v", r)
		}
	})
}
