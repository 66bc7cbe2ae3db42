package eql

import (
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// wildcard is a compiled `*`/`?` pattern matched against a whole string.
// Matching splits the pattern on `*` and places each part at its leftmost
// possible position: no backtracking, so cost is bounded by
// len(input)·len(pattern) whatever the input.
type wildcard struct {
	fold  bool     // case-insensitive (`:`, like~)
	parts []string // pattern split on '*'; folded when fold
	star  bool     // the pattern has at least one '*'
	runes [][]rune // parts as runes, for non-ASCII input
	// exact is set when the pattern has no wildcard at all.
	exact bool
	// need is the set of bytes the pattern's literal parts contain: an input
	// lacking one of them cannot match.
	need byteSet
}

// byteSet is a set of byte values.
type byteSet [4]uint64

func (b *byteSet) add(c byte) { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) containsAll(o *byteSet) bool {
	return o[0]&^b[0] == 0 && o[1]&^b[1] == 0 && o[2]&^b[2] == 0 && o[3]&^b[3] == 0
}

func newWildcard(pattern string, fold bool) *wildcard {
	if fold {
		pattern = foldString(pattern)
	}
	w := &wildcard{fold: fold, parts: strings.Split(pattern, "*")}
	w.star = len(w.parts) > 1
	w.exact = !w.star && !strings.ContainsRune(pattern, '?')
	for i := 0; i < len(pattern); i++ {
		if c := pattern[i]; c != '*' && c != '?' {
			w.need.add(c)
		}
	}
	w.runes = make([][]rune, len(w.parts))
	for i, p := range w.parts {
		w.runes[i] = []rune(p)
	}
	return w
}

// foldString lower-cases rune by rune, so the rune count never changes and
// `?` still stands for one character.
func foldString(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= s[i] && s[i] <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(unicode.ToLower, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// equalFoldASCII reports whether s lower-cased equals the already lower-case p.
func equalFoldASCII(s, p string) bool {
	if len(s) != len(p) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

func (w *wildcard) match(s string) bool {
	if !isASCII(s) {
		if w.fold {
			return w.matchRunes([]rune(foldString(s)))
		}
		if w.exact {
			return s == w.parts[0]
		}
		return w.matchRunes([]rune(s))
	}
	if w.exact {
		if w.fold {
			return equalFoldASCII(s, w.parts[0])
		}
		return s == w.parts[0]
	}
	parts := w.parts
	if !w.star {
		return len(s) == len(parts[0]) && w.partAt(s, 0, parts[0])
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) {
		return false
	}
	if !w.partAt(s, 0, first) || !w.partAt(s, len(s)-len(last), last) {
		return false
	}
	i, end := len(first), len(s)-len(last)
	for _, p := range parts[1 : len(parts)-1] {
		j := w.find(s[:end], i, p)
		if j < 0 {
			return false
		}
		i = j + len(p)
	}
	return true
}

// partAt reports whether part (with '?') matches s at byte i; s is ASCII.
func (w *wildcard) partAt(s string, i int, part string) bool {
	if i+len(part) > len(s) {
		return false
	}
	for j := 0; j < len(part); j++ {
		pc := part[j]
		if pc == '?' {
			continue
		}
		c := s[i+j]
		if w.fold && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != pc {
			return false
		}
	}
	return true
}

func (w *wildcard) find(s string, from int, part string) int {
	if !w.fold && !strings.ContainsRune(part, '?') {
		j := strings.Index(s[from:], part)
		if j < 0 {
			return -1
		}
		return from + j
	}
	for i := from; i+len(part) <= len(s); i++ {
		if w.partAt(s, i, part) {
			return i
		}
	}
	return -1
}

func (w *wildcard) matchRunes(s []rune) bool {
	parts := w.runes
	if !w.star {
		return len(s) == len(parts[0]) && runesAt(s, 0, parts[0])
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) {
		return false
	}
	if !runesAt(s, 0, first) || !runesAt(s, len(s)-len(last), last) {
		return false
	}
	i, end := len(first), len(s)-len(last)
	for _, p := range parts[1 : len(parts)-1] {
		found := -1
		for k := i; k+len(p) <= end; k++ {
			if runesAt(s[:end], k, p) {
				found = k
				break
			}
		}
		if found < 0 {
			return false
		}
		i = found + len(p)
	}
	return true
}

func runesAt(s []rune, i int, part []rune) bool {
	if i+len(part) > len(s) {
		return false
	}
	for j, pc := range part {
		if pc != '?' && s[i+j] != pc {
			return false
		}
	}
	return true
}

// wildcardSet is the any-of list on the right of `:`. For ASCII input it
// lower-cases the input once, into a stack buffer, and then matches every
// pattern with plain byte comparisons and strings.Index.
type wildcardSet struct {
	ws    []*wildcard
	fold  bool
	exact bool // no pattern has a wildcard
}

func newWildcardSet(ws []*wildcard) *wildcardSet {
	set := &wildcardSet{ws: ws, exact: true}
	for _, w := range ws {
		set.fold = set.fold || w.fold
		set.exact = set.exact && w.exact
	}
	return set
}

func (set *wildcardSet) match(s string) bool {
	ws := set.ws
	if len(ws) == 0 {
		return false
	}
	if set.fold && set.exact {
		// The common rule shape, `name : ("a.exe", "b.exe")`: a length
		// check rejects most values before a byte is compared.
		for _, w := range ws {
			if equalFoldASCII(s, w.parts[0]) {
				return true
			}
		}
		if isASCII(s) {
			return false
		}
	}
	if !set.fold || !isASCII(s) {
		for _, w := range ws {
			if w.match(s) {
				return true
			}
		}
		return false
	}
	var buf [512]byte
	var have byteSet
	ls := s
	if len(s) <= len(buf) {
		upper := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
				upper = true
			}
			buf[i] = c
			have.add(c)
		}
		if upper {
			ls = unsafe.String(&buf[0], len(s))
		}
	} else {
		ls = strings.ToLower(s)
		for i := 0; i < len(ls); i++ {
			have.add(ls[i])
		}
	}
	for _, w := range ws {
		// patterns needing a byte the input lacks are skipped unscanned
		if have.containsAll(&w.need) && w.matchLower(ls) {
			return true
		}
	}
	return false
}

// matchLower matches an ASCII, already lower-case input against a folded
// pattern: byte equality is then case-insensitive equality.
func (w *wildcard) matchLower(s string) bool {
	parts := w.parts
	if w.exact {
		return s == parts[0]
	}
	if !w.star {
		return len(s) == len(parts[0]) && partAtExact(s, 0, parts[0])
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) {
		return false
	}
	if !partAtExact(s, 0, first) || !partAtExact(s, len(s)-len(last), last) {
		return false
	}
	i, end := len(first), len(s)-len(last)
	for _, p := range parts[1 : len(parts)-1] {
		j := findExact(s[:end], i, p)
		if j < 0 {
			return false
		}
		i = j + len(p)
	}
	return true
}

func partAtExact(s string, i int, part string) bool {
	if i+len(part) > len(s) {
		return false
	}
	for j := 0; j < len(part); j++ {
		if pc := part[j]; pc != '?' && s[i+j] != pc {
			return false
		}
	}
	return true
}

func findExact(s string, from int, part string) int {
	if !strings.ContainsRune(part, '?') {
		j := strings.Index(s[from:], part)
		if j < 0 {
			return -1
		}
		return from + j
	}
	for i := from; i+len(part) <= len(s); i++ {
		if partAtExact(s, i, part) {
			return i
		}
	}
	return -1
}
