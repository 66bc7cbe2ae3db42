package eql

import "strings"

// resolver finds a dotted field in a decoded JSON event whether the event
// stores it nested ({"process":{"name":..}}), flat ({"process.name":..}) or
// any mix of the two. Keys for every split are joined once, at compile time.
type resolver struct {
	segs []string
	// keys[i][k] is segs[i:i+k+1] joined with dots.
	keys [][]string
}

func newResolver(segs []string) *resolver {
	r := &resolver{segs: segs, keys: make([][]string, len(segs))}
	for i := range segs {
		for j := i + 1; j <= len(segs); j++ {
			r.keys[i] = append(r.keys[i], strings.Join(segs[i:j], "."))
		}
	}
	return r
}

// get returns the raw value of the field, or nil when it is missing.
func (r *resolver) get(ev map[string]any) any {
	if len(r.segs) == 1 {
		return ev[r.segs[0]]
	}
	// fast path: the field stored fully nested, as ECS documents are
	m := ev
	last := len(r.segs) - 1
	for _, seg := range r.segs[:last] {
		sub, ok := m[seg].(map[string]any)
		if !ok {
			v, _ := r.from(ev, 0)
			return v
		}
		m = sub
	}
	if v, ok := m[r.segs[last]]; ok {
		return v
	}
	v, _ := r.from(ev, 0)
	return v
}

func (r *resolver) from(m map[string]any, i int) (any, bool) {
	n := len(r.segs)
	for k, key := range r.keys[i] {
		v, ok := m[key]
		if !ok {
			continue
		}
		j := i + k + 1
		if j == n {
			return v, true
		}
		switch x := v.(type) {
		case map[string]any:
			if got, ok := r.from(x, j); ok {
				return got, true
			}
		case []any:
			// an array of objects: the field has every object's value
			var out []any
			for _, e := range x {
				if sub, ok := e.(map[string]any); ok {
					if got, ok := r.from(sub, j); ok {
						if arr, ok := got.([]any); ok {
							out = append(out, arr...)
						} else {
							out = append(out, got)
						}
					}
				}
			}
			if len(out) > 0 {
				return out, true
			}
		}
	}
	return nil, false
}
