package rules

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tidwall/pretty"
)

// EvalContext compacts a rule's data and user_id with pretty.Ugly and
// UglyInPlace, which strip the whitespace outside strings without
// checking the syntax: these tests hold them to json.Compact on valid JSON.

func TestUgly(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":null } ", `{"a":[1,2],"b":null}`},
		{`{"name":"Jane Doe","note":" spaced\tout "}`, `{"name":"Jane Doe","note":" spaced\tout "}`},
		{`{"q":"say \"hi there\" ", "e":"back\\ slash" }`, `{"q":"say \"hi there\" ","e":"back\\ slash"}`},
		{`"\\"`, `"\\"`},
		{` [ "\\\" x" , "y z" ] `, `["\\\" x","y z"]`},
		{"\"caf\xc3\xa9 \xff\" ", "\"caf\xc3\xa9 \xff\""},
	} {
		if got := string(pretty.Ugly([]byte(tc.in))); got != tc.want {
			t.Errorf("Ugly(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(pretty.UglyInPlace([]byte(tc.in))); got != tc.want {
			t.Errorf("UglyInPlace(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzUgly holds pretty.Ugly to json.Compact on valid JSON.
func FuzzUgly(f *testing.F) {
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
		if got := pretty.Ugly(in); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Ugly(%q) = %q, json.Compact gives %q", in, got, want.Bytes())
		}
	})
}
