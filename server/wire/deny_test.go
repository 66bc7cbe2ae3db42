package wire

import (
	"errors"
	"testing"
)

func TestCheckDenied(t *testing.T) {
	cases := []struct {
		name, sql string
		denied    bool
	}{
		{"plain table", "SELECT * FROM curl WHERE url = 'http://x'", true},
		{"upper case", "select * from CURL", true},
		{"certificate table", "select * from curl_certificate where hostname='a'", true},
		{"carves", "select * from carves where carve=1 and path='/etc/shadow'", true},
		{"double quoted", `select * from "curl"`, true},
		{"backquoted", "select * from `carves`", true},
		{"bracketed", "select * from [curl]", true},
		{"in a join", "select p.pid from processes p join curl c on 1", true},
		{"in a subquery", "select * from processes where name in (select result from curl)", true},
		{"after a comment", "select 1 -- harmless\n; select * from curl", true},
		{"name only in a string", "select * from processes where name = 'curl'", false},
		{"name in a quoted string with escaped quote", "select * from processes where cmdline = 'it''s curl'", false},
		{"name in a line comment", "select * from processes -- not curl", false},
		{"name in a block comment", "select /* curl */ * from processes", false},
		{"prefix only", "select * from curlx", false},
		{"rule push-down", "select * from process_lineage_events where parent_name = 'ScreenConnect.Service.exe'", false},
		{"number with letters", "select 1e5, 0x1f from processes", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckDenied(c.sql, DefaultDeniedTables)
			if got := errors.Is(err, ErrDenied); got != c.denied {
				t.Errorf("got denied=%v (%v), want %v", got, err, c.denied)
			}
		})
	}
}

func TestCheckDeniedConfigurable(t *testing.T) {
	if err := CheckDenied("select * from curl", nil); err != nil {
		t.Errorf("empty deny list: got %v, want nil", err)
	}
	if err := CheckDenied("select * from yara", []string{"yara"}); !errors.Is(err, ErrDenied) {
		t.Errorf("custom deny list: got %v, want ErrDenied", err)
	}
	err := CheckDenied("select * from curl join carves", DefaultDeniedTables)
	if got, want := err.Error(), "query names denied table curl, carves: wire: query uses a denied table"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
