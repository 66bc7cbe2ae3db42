package eql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrUnsupported marks a query that is valid EQL but outside what this
// engine runs: sequences, joins, samples and pipes other than head and tail.
var ErrUnsupported = errors.New("unsupported")

// Error is a parse or compile error at a position of the query text.
type Error struct {
	Line, Col   int // 1-based
	Msg         string
	Unsupported bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("eql: %d:%d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap lets callers test errors.Is(err, ErrUnsupported).
func (e *Error) Unwrap() error {
	if e.Unsupported {
		return ErrUnsupported
	}
	return nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tBackquoted
	tString
	tInt
	tFloat
	tOp // punctuation and operators
)

type token struct {
	kind tokKind
	text string // identifier, decoded string, number text or operator
	off  int    // byte offset in the source
	// spaceBefore records whether whitespace preceded the token, so `f~(`
	// and `in~` can be told apart from a stray `~`.
	spaceBefore bool
}

type lexer struct {
	src  string
	toks []token
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	i := 0
	space := false
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
			space = true
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space = true
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, posErr(src, i, "unterminated comment")
			}
			i += end + 4
			space = true
			continue
		}
		start := i
		var t token
		switch {
		case c == '"':
			if strings.HasPrefix(src[i:], `"""`) {
				end := strings.Index(src[i+3:], `"""`)
				if end < 0 {
					return nil, posErr(src, i, "unterminated raw string")
				}
				t = token{kind: tString, text: src[i+3 : i+3+end]}
				i += end + 6
				break
			}
			s, n, err := unquote(src, i)
			if err != nil {
				return nil, err
			}
			t = token{kind: tString, text: s}
			i += n
		case c == '\'':
			return nil, posErr(src, i, "single-quoted strings are not supported, use double quotes")
		case c == '`':
			end := strings.IndexByte(src[i+1:], '`')
			if end < 0 {
				return nil, posErr(src, i, "unterminated backquoted field name")
			}
			t = token{kind: tBackquoted, text: src[i+1 : i+1+end]}
			i += end + 2
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			kind := tInt
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				kind = tFloat
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					kind = tFloat
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			t = token{kind: kind, text: src[i:j]}
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) {
				r, n := utf8.DecodeRuneInString(src[j:])
				if !(r == '_' || r == '@' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
					break
				}
				j += n
			}
			if j == i {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, posErr(src, i, fmt.Sprintf("unexpected character %q", r))
			}
			t = token{kind: tIdent, text: src[i:j]}
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "<", ">", ":", "~", "(", ")", "[", "]", ",", "|", "+", "-", "*", "/", "%", ".", "?", "="} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, posErr(src, i, fmt.Sprintf("unexpected character %q", r))
			}
			t = token{kind: tOp, text: op}
			i += len(op)
		}
		t.off = start
		t.spaceBefore = space
		space = false
		l.toks = append(l.toks, t)
	}
	l.toks = append(l.toks, token{kind: tEOF, off: len(src), spaceBefore: space})
	return l.toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// unquote decodes the double-quoted string at src[i] with EQL's escapes and
// returns it with the number of bytes consumed.
func unquote(src string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == '"':
			return b.String(), j + 1 - i, nil
		case c == '\n':
			return "", 0, posErr(src, j, "newline in string literal")
		case c == '\\':
			if j+1 >= len(src) {
				return "", 0, posErr(src, j, "unterminated string literal")
			}
			e := src[j+1]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\'', '\\':
				b.WriteByte(e)
			case 'u':
				if j+2 >= len(src) || src[j+2] != '{' {
					return "", 0, posErr(src, j, `invalid unicode escape, want \u{XXXX}`)
				}
				end := strings.IndexByte(src[j+3:], '}')
				if end < 0 || end > 8 {
					return "", 0, posErr(src, j, `invalid unicode escape, want \u{XXXX}`)
				}
				n, err := strconv.ParseUint(src[j+3:j+3+end], 16, 32)
				if err != nil || end < 2 || !utf8.ValidRune(rune(n)) {
					return "", 0, posErr(src, j, `invalid unicode escape, want \u{XXXX}`)
				}
				b.WriteRune(rune(n))
				j += 3 + end + 1
				continue
			default:
				return "", 0, posErr(src, j, fmt.Sprintf(`invalid escape sequence \%c`, e))
			}
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, posErr(src, i, "unterminated string literal")
}

// position turns a byte offset into a 1-based line and column (in runes).
func position(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func posErr(src string, off int, msg string) *Error {
	l, c := position(src, off)
	return &Error{Line: l, Col: c, Msg: msg}
}
