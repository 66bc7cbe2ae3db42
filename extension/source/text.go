package source

import (
	"bufio"
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// textReader returns r as UTF-8: a UTF-8 byte order mark is dropped, and
// UTF-16 text (with a BOM, or without one when it starts with '<', '{' or
// '[' followed by NUL, as PowerShell's Out-File and Export writes it) is
// transcoded as it streams.
//
// An invalid UTF-16 sequence (a lone surrogate) becomes the byte 0xFF, which
// is never valid UTF-8: the reader of the record it falls in then skips that
// record as invalid text instead of importing a silently altered value.
func textReader(br *bufio.Reader) io.Reader {
	head, _ := br.Peek(4)
	switch {
	case len(head) >= 3 && head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf:
		br.Discard(3)
		return br
	case len(head) >= 2 && head[0] == 0xff && head[1] == 0xfe:
		br.Discard(2)
		return &utf16Reader{r: br, little: true}
	case len(head) >= 2 && head[0] == 0xfe && head[1] == 0xff:
		br.Discard(2)
		return &utf16Reader{r: br}
	case len(head) >= 2 && head[1] == 0 && head[0] != 0 && isOpener(head[0]):
		return &utf16Reader{r: br, little: true}
	case len(head) >= 2 && head[0] == 0 && head[1] != 0 && isOpener(head[1]):
		return &utf16Reader{r: br}
	}
	return br
}

func isOpener(b byte) bool { return b == '<' || b == '{' || b == '[' }

// errOddByte is a UTF-16 stream that ends in the middle of a code unit.
var errOddByte = errors.New("odd byte at the end of UTF-16 text")

// utf16Reader transcodes a UTF-16 stream to UTF-8.
type utf16Reader struct {
	r      *bufio.Reader
	little bool
	out    []byte // transcoded bytes not yet returned
	err    error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		u.fill()
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// fill transcodes up to 4 KiB code units.
func (u *utf16Reader) fill() {
	buf := u.out[:0]
	for i := 0; i < 4096; i++ {
		c, err := u.unit()
		if err == errOddByte {
			buf = append(buf, 0xff)
			u.err = io.EOF
			break
		}
		if err != nil {
			u.err = err
			break
		}
		switch {
		case c < 0xd800 || c > 0xdfff:
			buf = utf8.AppendRune(buf, rune(c))
		case c <= 0xdbff:
			c2, err := u.unit()
			if err != nil {
				buf = append(buf, 0xff)
				u.err = err
				if err == errOddByte {
					u.err = io.EOF
				}
				u.out = buf
				return
			}
			if c2 < 0xdc00 || c2 > 0xdfff {
				buf = append(buf, 0xff)
				// c2 starts something else; keep it.
				if c2 < 0xd800 || c2 > 0xdfff {
					buf = utf8.AppendRune(buf, rune(c2))
				} else {
					buf = append(buf, 0xff)
				}
				continue
			}
			buf = utf8.AppendRune(buf, utf16.DecodeRune(rune(c), rune(c2)))
		default: // lone low surrogate
			buf = append(buf, 0xff)
		}
	}
	u.out = buf
}

func (u *utf16Reader) unit() (uint16, error) {
	b0, err := u.r.ReadByte()
	if err != nil {
		return 0, err
	}
	b1, err := u.r.ReadByte()
	if err != nil {
		return 0, errOddByte
	}
	if u.little {
		return uint16(b0) | uint16(b1)<<8, nil
	}
	return uint16(b1) | uint16(b0)<<8, nil
}
