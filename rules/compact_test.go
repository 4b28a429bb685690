package rules

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCompactValid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":null } ", `{"a":[1,2],"b":null}`},
		{`{"name":"Jane Doe","note":" spaced\tout "}`, `{"name":"Jane Doe","note":" spaced\tout "}`},
		{`{"q":"say \"hi there\" ", "e":"back\\ slash" }`, `{"q":"say \"hi there\" ","e":"back\\ slash"}`},
		{`"\\"`, `"\\"`},
		{` [ "\\\" x" , "y z" ] `, `["\\\" x","y z"]`},
		{"\"caf\xc3\xa9 \xff\" ", "\"caf\xc3\xa9 \xff\""},
	} {
		if got := string(compactValid(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("compactValid(%q) = %q, want %q", tc.in, got, tc.want)
		}
		in := []byte(tc.in) // in place, as EvalContext calls it
		if got := string(compactValid(in[:0], in)); got != tc.want {
			t.Errorf("compactValid(in[:0], %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzCompactValid holds compactValid to json.Compact on valid JSON.
func FuzzCompactValid(f *testing.F) {
	for _, s := range []string{`{"a": [1, "b c", {"d" : "\"e\\"}]}`, ` null `, "\"\\u00e9 x\"", `[ ]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, in); err != nil {
			t.Fatal(err)
		}
		if got := compactValid(nil, in); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("compactValid(%q) = %q, json.Compact gives %q", in, got, want.Bytes())
		}
	})
}
