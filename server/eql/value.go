package eql

import (
	"encoding/json"
	"math"
	"strconv"
)

// tv is a three-valued truth: EQL conditions are true, false or null.
type tv int8

const (
	tFalse tv = iota
	tTrue
	tNull
)

func tvOf(b bool) tv {
	if b {
		return tTrue
	}
	return tFalse
}

func (t tv) not() tv {
	switch t {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tNull
}

type kind uint8

const (
	vNull kind = iota
	vBool
	vInt
	vFloat
	vStr
	vMulti // a multi-valued field: compared element by element
)

// value is an evaluated expression. It is a plain struct so evaluation
// allocates nothing for the scalar cases.
type value struct {
	k kind
	b bool
	i int64
	f float64
	s string
	m []any
}

var null = value{}

func strVal(s string) value { return value{k: vStr, s: s} }
func intVal(i int64) value  { return value{k: vInt, i: i} }
func boolVal(b bool) value  { return value{k: vBool, b: b} }
func floatVal(f float64) value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return null
	}
	return value{k: vFloat, f: f}
}

// valueOf converts a decoded JSON value. Integral floats become integers so
// `concat(serial_event_id)` prints 5, not 5.0; objects are not values.
func valueOf(x any) value {
	switch v := x.(type) {
	case nil:
		return null
	case string:
		return value{k: vStr, s: v}
	case bool:
		return value{k: vBool, b: v}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return value{k: vInt, i: int64(v)}
		}
		return floatVal(v)
	case int64:
		return value{k: vInt, i: v}
	case int:
		return value{k: vInt, i: int64(v)}
	case int32:
		return value{k: vInt, i: int64(v)}
	case uint64:
		if v > math.MaxInt64 {
			return floatVal(float64(v))
		}
		return value{k: vInt, i: int64(v)}
	case float32:
		return valueOf(float64(v))
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return value{k: vInt, i: i}
		}
		if f, err := v.Float64(); err == nil {
			return floatVal(f)
		}
		return null
	case []any:
		switch len(v) {
		case 0:
			return null
		case 1:
			return valueOf(v[0])
		}
		return value{k: vMulti, m: v}
	case []string:
		switch len(v) {
		case 0:
			return null
		case 1:
			return value{k: vStr, s: v[0]}
		}
		m := make([]any, len(v))
		for i, s := range v {
			m[i] = s
		}
		return value{k: vMulti, m: m}
	}
	return null
}

func (v value) isNum() bool { return v.k == vInt || v.k == vFloat }

func (v value) num() float64 {
	if v.k == vInt {
		return float64(v.i)
	}
	return v.f
}

// first returns the first element of a multi-valued value; functions take
// one value, as scripts over doc values in Elasticsearch do.
func (v value) first() value {
	if v.k == vMulti {
		for _, e := range v.m {
			if ev := valueOf(e); ev.k != vNull {
				return ev
			}
		}
		return null
	}
	return v
}

// truth is how a value reads in a boolean position.
func (v value) truth() tv {
	switch v.k {
	case vNull:
		return tNull
	case vBool:
		return tvOf(v.b)
	case vMulti:
		return v.first().truth()
	}
	return tFalse
}

// text renders a value as string() and concat() do.
func (v value) text() (string, bool) {
	switch v.k {
	case vStr:
		return v.s, true
	case vInt:
		return strconv.FormatInt(v.i, 10), true
	case vFloat:
		return strconv.FormatFloat(v.f, 'f', -1, 64), true
	case vBool:
		return strconv.FormatBool(v.b), true
	case vMulti:
		return v.first().text()
	}
	return "", false
}

// compareScalars orders two non-null scalars: -1, 0, 1, or ok=false when
// they are of types that do not compare.
func compareScalars(a, b value) (int, bool) {
	switch {
	case a.k == vStr && b.k == vStr:
		switch {
		case a.s < b.s:
			return -1, true
		case a.s > b.s:
			return 1, true
		}
		return 0, true
	case a.k == vInt && b.k == vInt:
		switch {
		case a.i < b.i:
			return -1, true
		case a.i > b.i:
			return 1, true
		}
		return 0, true
	case a.k == vInt && b.k == vFloat:
		return compareIntFloat(a.i, b.f), true
	case a.k == vFloat && b.k == vInt:
		return -compareIntFloat(b.i, a.f), true
	case a.isNum() && b.isNum():
		x, y := a.num(), b.num()
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case a.k == vBool && b.k == vBool:
		switch {
		case a.b == b.b:
			return 0, true
		case !a.b:
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

func opHolds(op string, c int) bool {
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// compareValues applies a comparison with null semantics and any-match over
// multi-valued operands. `!=` on a multi-valued field holds when no element
// equals, as a negated term query does.
func compareValues(op string, a, b value) tv {
	if a.k == vNull || b.k == vNull {
		return tNull
	}
	if op == "!=" {
		return compareValues("==", a, b).not()
	}
	if a.k == vMulti {
		res := tNull
		for _, e := range a.m {
			switch compareValues(op, valueOf(e), b) {
			case tTrue:
				return tTrue
			case tFalse:
				res = tFalse
			}
		}
		return res
	}
	if b.k == vMulti {
		return compareValues(flip(op), b, a)
	}
	c, ok := compareScalars(a, b)
	if !ok {
		return tNull
	}
	return tvOf(opHolds(op, c))
}

func flip(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// compareIntFloat orders an integer and a float exactly, as SQLite does, so
// the SQL pushed to hosts and the evaluator agree beyond 2^53.
func compareIntFloat(i int64, f float64) int {
	x := float64(i)
	switch {
	case x < f:
		return -1
	case x > f:
		return 1
	}
	// float64(i) == f: f is integral; compare in int64 when it fits
	if f >= -9.223372036854775808e18 && f < 9.223372036854775808e18 {
		j := int64(f)
		switch {
		case i < j:
			return -1
		case i > j:
			return 1
		}
		return 0
	}
	if f > 0 {
		return -1
	}
	return 1
}
