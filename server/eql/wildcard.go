package eql

import (
	"encoding/binary"
	"math"
	"math/bits"
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
	// minLen and maxLen bound the byte length of an input that folds to an
	// exact, folded pattern: a value outside them is rejected unread.
	minLen, maxLen int
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
	if w.exact && fold {
		w.minLen = utf8.RuneCountInString(pattern)
		if isASCII(pattern) {
			for i := 0; i < len(pattern); i++ {
				w.maxLen += foldWidth[pattern[i]]
			}
		} else {
			w.maxLen = utf8.UTFMax * w.minLen
		}
	}
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

// foldWidth[c] is the length of the longest UTF-8 encoding of a rune that
// lower-cases to the ASCII byte c: 3 for 'k' (KELVIN SIGN), 2 for 'i'
// (LATIN CAPITAL LETTER I WITH DOT ABOVE), 1 for most.
var foldWidth = func() (w [utf8.RuneSelf]int) {
	for i := range w {
		w[i] = 1
	}
	for _, cr := range unicode.CaseRanges {
		for r := rune(max(cr.Lo, utf8.RuneSelf)); r <= rune(cr.Hi); r++ {
			if l := unicode.ToLower(r); l < utf8.RuneSelf {
				w[l] = max(w[l], utf8.RuneLen(r))
			}
		}
	}
	return w
}()

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
	// eight bytes at a time: a value rejected by every pattern of a list is
	// checked for non-ASCII bytes before the rune path is ruled out
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
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
	// pre is set for longer lists of folded patterns; see anchorFilter.
	pre *anchorFilter
}

func newWildcardSet(ws []*wildcard) *wildcardSet {
	set := &wildcardSet{ws: ws, exact: true}
	allFold := true
	for _, w := range ws {
		set.fold = set.fold || w.fold
		set.exact = set.exact && w.exact
		allFold = allFold && w.fold
	}
	if allFold && !set.exact && len(ws) >= minAnchored && len(ws) <= 64 {
		set.pre = newAnchorFilter(ws)
	}
	return set
}

// minAnchored is the list length from which one scan for every pattern's
// anchor beats trying the patterns one after another.
const minAnchored = 4

// anchorFilter finds, in one pass over the input, which patterns of a list
// can match at all. Each pattern's anchor is its longest run of literal
// bytes (no `*`, no `?`): every match contains it, so a pattern whose
// anchor is absent is skipped, and the rest are matched in full. Anchors
// are found by their first two bytes, looked up in a bitmap of byte pairs.
type anchorFilter struct {
	pairs   [1024]uint64 // bit p set: some anchor starts with the pair p
	byFirst [256][]anchor
	always  uint64 // patterns with no anchor of two bytes or more
}

type anchor struct {
	lit string
	pat uint
}

func newAnchorFilter(ws []*wildcard) *anchorFilter {
	f := &anchorFilter{}
	for i, w := range ws {
		best := ""
		for _, part := range w.parts {
			for _, lit := range strings.Split(part, "?") {
				if len(lit) > len(best) {
					best = lit
				}
			}
		}
		if len(best) < 2 {
			f.always |= 1 << uint(i)
			continue
		}
		// every ASCII case of the pair, as the input is scanned unfolded
		for _, c0 := range asciiCases(best[0]) {
			for _, c1 := range asciiCases(best[1]) {
				p := uint16(c0)<<8 | uint16(c1)
				f.pairs[p>>6] |= 1 << (p & 63)
			}
		}
		f.byFirst[best[0]] = append(f.byFirst[best[0]], anchor{lit: best, pat: uint(i)})
	}
	return f
}

// lowerASCII maps each byte to its ASCII lower case.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// scan returns the patterns whose anchor s contains, ignoring ASCII case,
// in one pass that neither copies nor branches on the bytes; ok is false
// for non-ASCII input, which the patterns' rune path handles. Past 32
// positions where an anchor may start, every pattern is a candidate.
func (f *anchorFilter) scan(s string, all uint64) (cand uint64, ok bool) {
	if len(s) == 0 || len(s) > math.MaxUint16 {
		return 0, false
	}
	var at [32]uint16
	n := 0
	acc := s[0]
	for i := 1; i < len(s); i++ {
		c := s[i]
		acc |= c
		p := uint16(s[i-1])<<8 | uint16(c)
		at[n&(len(at)-1)] = uint16(i - 1)
		n += int(f.pairs[p>>6] >> (p & 63) & 1)
	}
	if acc >= utf8.RuneSelf {
		return 0, false
	}
	if n >= len(at) {
		return all, true
	}
	cand = f.always
	for _, i := range at[:n] {
		rest := s[i:]
		for _, a := range f.byFirst[lowerASCII[rest[0]]] {
			if cand&(1<<a.pat) == 0 && len(rest) >= len(a.lit) && equalFoldASCII(rest[:len(a.lit)], a.lit) {
				cand |= 1 << a.pat
			}
		}
	}
	return cand, true
}

func asciiCases(c byte) []byte {
	if 'a' <= c && c <= 'z' {
		return []byte{c, c - ('a' - 'A')}
	}
	return []byte{c}
}

func (set *wildcardSet) match(s string) bool {
	ws := set.ws
	if len(ws) == 0 {
		return false
	}
	if set.fold && set.exact {
		// The common rule shape, `name : ("a.exe", "b.exe")`: a length
		// check rejects most values before a byte is compared.
		possible := false
		for _, w := range ws {
			if equalFoldASCII(s, w.parts[0]) {
				return true
			}
			possible = possible || (w.minLen <= len(s) && len(s) <= w.maxLen)
		}
		// Only non-ASCII input of another length can still fold to a
		// pattern; the length alone rules most values out unread.
		if !possible || isASCII(s) {
			return false
		}
	}
	if set.pre != nil {
		if cand, ok := set.pre.scan(s, 1<<len(ws)-1); ok {
			if cand == 0 {
				return false
			}
			var buf [512]byte
			ls := s
			if len(s) <= len(buf) {
				for i := 0; i < len(s); i++ {
					buf[i] = lowerASCII[s[i]]
				}
				ls = unsafe.String(&buf[0], len(s))
			} else {
				ls = strings.ToLower(s)
			}
			for ; cand != 0; cand &= cand - 1 {
				if ws[bits.TrailingZeros64(cand)].matchLower(ls) {
					return true
				}
			}
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
