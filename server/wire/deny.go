package wire

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultDeniedTables are osquery tables with side effects on the host or
// beyond it: curl makes requests, carves copies files off the host.
var DefaultDeniedTables = []string{"curl", "curl_certificate", "carves"}

// ErrDenied reports a query that names a denied table.
var ErrDenied = errors.New("wire: query uses a denied table")

// CheckDenied returns an error wrapping ErrDenied when sql names any of the
// denied tables. It matches identifiers, not text: names in string literals
// and comments do not count, quoted identifiers ("curl", `curl`, [curl]) do.
// A column that shares a denied table's name is refused too: failing closed
// is the point.
func CheckDenied(sql string, denied []string) error {
	if len(denied) == 0 {
		return nil
	}
	var hits []string
	for _, id := range Identifiers(sql) {
		for _, d := range denied {
			if strings.EqualFold(id, d) && !contains(hits, d) {
				hits = append(hits, d)
			}
		}
	}
	if len(hits) > 0 {
		return fmt.Errorf("query names denied table %s: %w", strings.Join(hits, ", "), ErrDenied)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Identifiers lists the identifiers of a SQLite statement in order, quotes
// removed. An unterminated quote or comment ends the scan with what it has
// (SQLite would refuse such SQL anyway).
func Identifiers(sql string) []string {
	var ids []string
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'':
			i = skipQuoted(sql, i, '\'')
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return ids
			}
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return ids
			}
			i += j + 4
		case c == '"' || c == '`':
			j := skipQuoted(sql, i, c)
			end := j - 1
			if end <= i {
				end = len(sql)
			}
			ids = append(ids, strings.ReplaceAll(sql[i+1:end], string([]byte{c, c}), string(c)))
			i = j
		case c == '[':
			j := strings.IndexByte(sql[i:], ']')
			if j < 0 {
				ids = append(ids, sql[i+1:])
				return ids
			}
			ids = append(ids, sql[i+1:i+j])
			i += j + 1
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			ids = append(ids, sql[i:j])
			i = j
		case c >= '0' && c <= '9':
			// A number such as 1e5 or 0x1F must not yield an identifier.
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) {
				j++
			}
			i = j
		default:
			i++
		}
	}
	return ids
}

// skipQuoted returns the index after the quote that closes the one at i;
// a doubled quote is an escaped one.
func skipQuoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }
