package eql

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf16"
)

// arith applies + - * / % with Elasticsearch's rules: integer operands give
// integer results (division truncates), null or division by zero give null.
func arith(op string, a, b value) value {
	if !a.isNum() || !b.isNum() {
		return null
	}
	if a.k == vInt && b.k == vInt {
		x, y := a.i, b.i
		switch op {
		case "+":
			return intVal(x + y)
		case "-":
			return intVal(x - y)
		case "*":
			return intVal(x * y)
		case "/":
			if y == 0 || (x == math.MinInt64 && y == -1) {
				return null
			}
			return intVal(x / y)
		case "%":
			if y == 0 || y == -1 {
				if y == -1 {
					return intVal(0)
				}
				return null
			}
			return intVal(x % y)
		}
		return null
	}
	x, y := a.num(), b.num()
	switch op {
	case "+":
		return floatVal(x + y)
	case "-":
		return floatVal(x - y)
	case "*":
		return floatVal(x * y)
	case "/":
		if y == 0 {
			return null
		}
		return floatVal(x / y)
	case "%":
		if y == 0 {
			return null
		}
		return floatVal(math.Mod(x, y))
	}
	return null
}

func (c *compiler[E]) call(x callNode) (evalFn[E], error) {
	args := make([]evalFn[E], len(x.args))
	for i, a := range x.args {
		e, err := c.value(a)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	ci := x.insensitive
	eval := func(ev E, i int) value { return args[i](ev).first() }
	str := func(ev E, i int) (string, bool) {
		v := eval(ev, i)
		if v.k != vStr {
			return "", false
		}
		return v.s, true
	}
	// two-string functions share their null handling
	two := func(f func(a, b string) value) evalFn[E] {
		return func(ev E) value {
			a, ok1 := str(ev, 0)
			b, ok2 := str(ev, 1)
			if !ok1 || !ok2 {
				return null
			}
			if ci {
				a, b = foldString(a), foldString(b)
			}
			return f(a, b)
		}
	}
	switch x.name {
	case "add", "subtract", "multiply", "divide", "modulo":
		op := map[string]string{"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "modulo": "%"}[x.name]
		return func(ev E) value { return arith(op, eval(ev, 0), eval(ev, 1)) }, nil
	case "startsWith":
		return two(func(a, b string) value { return boolVal(strings.HasPrefix(a, b)) }), nil
	case "endsWith":
		return two(func(a, b string) value { return boolVal(strings.HasSuffix(a, b)) }), nil
	case "stringContains":
		return two(func(a, b string) value { return boolVal(strings.Contains(a, b)) }), nil
	case "length":
		return func(ev E) value {
			s, ok := str(ev, 0)
			if !ok {
				return null
			}
			return intVal(int64(utf16Len(s)))
		}, nil
	case "string":
		return func(ev E) value {
			s, ok := eval(ev, 0).text()
			if !ok {
				return null
			}
			return strVal(s)
		}, nil
	case "concat":
		return func(ev E) value {
			var b strings.Builder
			for i := range args {
				s, ok := eval(ev, i).text()
				if !ok {
					return null
				}
				b.WriteString(s)
			}
			return strVal(b.String())
		}, nil
	case "indexOf":
		return func(ev E) value {
			a, ok1 := str(ev, 0)
			b, ok2 := str(ev, 1)
			if !ok1 || !ok2 {
				return null
			}
			start := int64(0)
			if len(args) == 3 {
				v := eval(ev, 2)
				switch v.k {
				case vInt:
					start = v.i
				case vNull:
				default:
					return null
				}
			}
			if ci {
				a, b = foldString(a), foldString(b)
			}
			ra, rb := []rune(a), string(b)
			if start < 0 {
				start = 0
			}
			if start > int64(len(ra)) {
				return null
			}
			j := strings.Index(string(ra[start:]), rb)
			if j < 0 {
				return null
			}
			return intVal(start + int64(len([]rune(string(ra[start:])[:j]))))
		}, nil
	case "substring":
		return func(ev E) value {
			s, ok := str(ev, 0)
			if !ok {
				return null
			}
			r := []rune(s)
			n := int64(len(r))
			sv := eval(ev, 1)
			if sv.k != vInt {
				return null
			}
			start, end := sv.i, n
			if len(args) == 3 {
				ev2 := eval(ev, 2)
				switch ev2.k {
				case vInt:
					end = ev2.i
				case vNull:
				default:
					return null
				}
			}
			// Python-style slicing: negative positions count from the end.
			if start < 0 {
				start = max(n+start, 0)
			}
			if end < 0 {
				end = max(n+end, 0)
			}
			start, end = min(start, n), min(end, n)
			if start >= end {
				return strVal("")
			}
			return strVal(string(r[start:end]))
		}, nil
	case "between":
		return func(ev E) value {
			s, ok1 := str(ev, 0)
			l, ok2 := str(ev, 1)
			r, ok3 := str(ev, 2)
			if !ok1 || !ok2 || !ok3 {
				return null
			}
			greedy := false
			if len(args) == 4 {
				g := eval(ev, 3)
				if g.k != vBool {
					return null
				}
				greedy = g.b
			}
			return between(s, l, r, greedy, ci)
		}, nil
	case "cidrMatch":
		return func(ev E) value {
			ip, ok := str(ev, 0)
			if !ok {
				return null
			}
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				return boolVal(false)
			}
			for i := 1; i < len(args); i++ {
				c, ok := str(ev, i)
				if !ok {
					continue
				}
				pfx, err := netip.ParsePrefix(c)
				if err != nil {
					if a, err2 := netip.ParseAddr(c); err2 == nil {
						pfx = netip.PrefixFrom(a, a.BitLen())
					} else {
						continue
					}
				}
				if pfx.Masked().Contains(addr.Unmap()) || pfx.Masked().Contains(addr) {
					return boolVal(true)
				}
			}
			return boolVal(false)
		}, nil
	case "number":
		return func(ev E) value {
			v := eval(ev, 0)
			if v.isNum() {
				return v
			}
			if v.k != vStr {
				return null
			}
			base := int64(10)
			if len(args) == 2 {
				b := eval(ev, 1)
				if b.k != vInt {
					return null
				}
				base = b.i
			}
			return parseNumber(v.s, base)
		}, nil
	}
	return nil, &Error{Msg: "unknown function " + x.name}
}

func parseNumber(s string, base int64) value {
	s = strings.TrimSpace(s)
	if base == 10 {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intVal(i)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatVal(f)
		}
		return null
	}
	if base < 2 || base > 36 {
		return null
	}
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	if base == 16 {
		t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	}
	i, err := strconv.ParseInt(t, int(base), 64)
	if err != nil {
		return null
	}
	if neg {
		i = -i
	}
	return intVal(i)
}

// between returns the text between the first left and the next (or, when
// greedy, the last) right; "" when either is absent.
func between(s, left, right string, greedy, fold bool) value {
	hs, l, r := s, left, right
	if fold {
		hs, l, r = foldString(s), foldString(left), foldString(right)
		if len(hs) != len(s) {
			// byte offsets differ after folding; work on the folded text
			s = hs
		}
	}
	i := strings.Index(hs, l)
	if i < 0 {
		return strVal("")
	}
	start := i + len(l)
	var end int
	if greedy {
		end = strings.LastIndex(hs, r)
		if end < start {
			return strVal("")
		}
	} else {
		j := strings.Index(hs[start:], r)
		if j < 0 {
			return strVal("")
		}
		end = start + j
	}
	return strVal(s[start:end])
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
