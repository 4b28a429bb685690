package jsonbody

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// nest returns v inside n arrays.
func nest(n int, v string) string {
	return strings.Repeat("[", n) + v + strings.Repeat("]", n)
}

// TestCheck: duplicate keys at any depth and deep nesting are refused,
// naming the key, where it is and the top-level field; syntax errors are
// ErrSyntax; everything else passes.
func TestCheck(t *testing.T) {
	cases := []struct {
		name, body string
		field      string // "" for no field
		msg        string // a part of the message; "" = accepted
	}{
		{"object", `{"url": "a", "events": ["x"], "filters": {"site_ids": ["a", "a"]}}`, "", ""},
		{"same key in sibling objects", `{"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]}`, "", ""},
		{"same key at two levels", `{"k": {"k": {"k": 1}}}`, "", ""},
		{"keys differing in case", `{"url": "a", "URL": "b"}`, "", ""},
		{"not an object", `[1, "a", null, true]`, "", ""},
		{"scalar", `"text"`, "", ""},
		{"huge number", `{"n": 1e99999}`, "", ""},
		{"32 levels", nest(32, "1"), "", ""},
		{"32 levels under a field", `{"a": ` + nest(31, "1") + `}`, "", ""},
		{"duplicate at the top", `{"url": "a", "url": "b"}`, "url", `request body has the key "url" more than once`},
		{"duplicate after a container", `{"filters": {}, "events": [], "filters": {}}`, "filters", `the key "filters" more than once`},
		{"duplicate in headers", `{"headers": {"X-A": "1", "X-B": "2", "X-A": "3"}}`, "headers", `the key "X-A" appears more than once in headers`},
		{"duplicate in filters", `{"url": "a", "filters": {"site_ids": ["a"], "site_ids": ["b"]}}`, "filters", `the key "site_ids" appears more than once in filters`},
		{"duplicate in an array element", `{"events": [1, {"a": 1}, {"a": 1, "a": 2}]}`, "events", `the key "a" appears more than once in events[2]`},
		{"duplicate deep", `{"a": {"b": [[{"c": {"d": 1, "d": 1}}]]}}`, "a", `in a.b[0][0].c`},
		{"duplicate empty key", `{"": 1, "": 2}`, "", `the key "" more than once`},
		{"duplicate in a top-level array", `[{"a": 1, "a": 2}]`, "", `the key "a" appears more than once in [0]`},
		{"escaped duplicate", `{"url": "a", "\u0075rl": "b"}`, "url", `the key "url" more than once`},
		{"33 levels", nest(33, "1"), "", "nested too deep: more than 32 levels"},
		{"33 levels unclosed", strings.Repeat("[", 33), "", "nested too deep"},
		{"10001 levels", nest(10001, ""), "", "nested too deep"},
		{"too deep under a field", `{"url": "a", "filters": {"site_ids": ` + nest(31, `"a"`) + `}}`, "filters", "nested too deep"},
		{"syntax", `{"url":}`, "", "not one JSON value"},
		{"unclosed", `{"url": "a"`, "", "not one JSON value"},
		{"trailing", `{"url": "a"} x`, "", "not one JSON value"},
		{"two values", `{} {}`, "", "not one JSON value"},
		{"empty", ``, "", "not one JSON value"},
	}
	for _, tc := range cases {
		err := Check([]byte(tc.body))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.msg)
			continue
		}
		var be *Error
		if errors.As(err, &be) && be.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, be.Field, tc.field)
		}
	}
}

// FuzzCheck: Check never panics, refuses all invalid JSON and
// takes no valid JSON for a syntax error; a document without duplicates
// (re-encoded from a decoded one) passes unless too deep, and one key
// repeated around it is always found.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"url":"a","url":"b"}`, `{"headers":{"A":"1"}}`, `[[[]]]`, `"x"`, `1e999`, `{"a":[{"b":{}}]}`, nest(40, ""), strings.Repeat("[", 33)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data)
		valid := json.Valid(data)
		if !valid {
			// Duplicates and depth are found while reading, so before a
			// later syntax error.
			var be *Error
			if !errors.Is(err, ErrSyntax) && !errors.As(err, &be) {
				t.Fatalf("invalid JSON %q: got %v, want a refusal", data, err)
			}
			return
		}
		if errors.Is(err, ErrSyntax) {
			t.Fatalf("valid JSON %q refused as a syntax error", data)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return // a number beyond float64: valid JSON all the same
		}
		clean, _ := json.Marshal(v) // maps have no duplicate keys
		depth := depthOf(v)
		err = Check(clean)
		if (depth > MaxDepth) != (err != nil && strings.Contains(err.Error(), "nested too deep")) || (depth <= MaxDepth && err != nil) {
			t.Fatalf("%s (depth %d): %v", clean, depth, err)
		}
		if depth >= MaxDepth {
			return
		}
		doubled := `{"k": ` + string(clean) + `, "k": 1}`
		if err := Check([]byte(doubled)); err == nil || !strings.Contains(err.Error(), `"k"`) {
			t.Fatalf("%s: duplicate k not found: %v", doubled, err)
		}
	})
}

// depthOf counts the levels of objects and arrays of a decoded value.
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	case []any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}
