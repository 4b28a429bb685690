package rules

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// redactor removes keys from produced data. Each entry is a dot path of
// keys: "password" is a top-level key, "a.b" the key b inside a, and a "*"
// component stands for any number of levels (zero included), so "*.token"
// is a key token at any depth. Arrays are transparent: a path applies to
// every element, so "items.secret" reaches into a list of objects.
type redactor struct {
	paths [][]string
}

// compileRedact checks the entries.
func compileRedact(entries []string) (*redactor, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	r := &redactor{}
	for _, e := range entries {
		if e == "" {
			return nil, errors.New("empty entry")
		}
		comps := strings.Split(e, ".")
		for _, c := range comps {
			if c == "" {
				return nil, fmt.Errorf("entry %q: empty component", e)
			}
		}
		if comps[len(comps)-1] == "*" {
			return nil, fmt.Errorf("entry %q: must end with a key name, not *", e)
		}
		r.paths = append(r.paths, comps)
	}
	return r, nil
}

// merge returns a redactor with the paths of both (nil when both are nil).
func (r *redactor) merge(o *redactor) *redactor {
	switch {
	case r == nil:
		return o
	case o == nil:
		return r
	}
	return &redactor{paths: append(append([][]string(nil), r.paths...), o.paths...)}
}

// state is a position in one redact path: paths[p][i] is the next
// component to match.
type state struct{ p, i int }

// apply returns doc without the redacted keys, keeping the order of the
// others. doc must be valid JSON.
func (r *redactor) apply(doc []byte) []byte {
	if r == nil {
		return doc
	}
	states := make([]state, len(r.paths))
	for p := range r.paths {
		states[p] = state{p: p}
	}
	var buf bytes.Buffer
	buf.Grow(len(doc))
	r.write(&buf, gjson.ParseBytes(doc), r.closure(states), 0)
	return buf.Bytes()
}

// closure adds, for every state at a "*", the state just past it ("*" may
// match zero levels).
func (r *redactor) closure(states []state) []state {
	for k := 0; k < len(states); k++ {
		s := states[k]
		if r.paths[s.p][s.i] == "*" {
			next := state{s.p, s.i + 1}
			if !containsState(states, next) {
				states = append(states, next)
			}
		}
	}
	return states
}

func containsState(states []state, s state) bool {
	for _, t := range states {
		if t == s {
			return true
		}
	}
	return false
}

// maxRedactDepth bounds the recursion; deeper values are copied as they are.
const maxRedactDepth = 1000

func (r *redactor) write(buf *bytes.Buffer, v gjson.Result, states []state, depth int) {
	if len(states) == 0 || depth > maxRedactDepth || (!v.IsObject() && !v.IsArray()) {
		buf.WriteString(v.Raw)
		return
	}
	if v.IsArray() {
		buf.WriteByte('[')
		first := true
		v.ForEach(func(_, e gjson.Result) bool {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			r.write(buf, e, states, depth+1)
			return true
		})
		buf.WriteByte(']')
		return
	}
	buf.WriteByte('{')
	first := true
	v.ForEach(func(k, e gjson.Result) bool {
		var next []state
		for _, s := range states {
			comp := r.paths[s.p][s.i]
			switch comp {
			case "*":
				if !containsState(next, s) {
					next = append(next, s)
				}
			case k.Str:
				if s.i == len(r.paths[s.p])-1 {
					return true // redacted: skip the key
				}
				n := state{s.p, s.i + 1}
				if !containsState(next, n) {
					next = append(next, n)
				}
			}
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteString(k.Raw)
		buf.WriteByte(':')
		r.write(buf, e, r.closure(next), depth+1)
		return true
	})
	buf.WriteByte('}')
}
