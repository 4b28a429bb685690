package jsontext

import "testing"

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ text, in string }{
		// in: one mark per byte, s where the byte belongs to a string.
		{`{"a": 1}`, `.sss....`},
		{`["x\"y", "\\"]`, `.ssssss..ssss.`},
		{`"a b" c`, `sssss..`},
		{`"\u00e9"`, `ssssssss`},
		{`[1, "{", 2]`, `....sss....`},
	} {
		var s Strings
		got := make([]byte, len(tc.text))
		for i := range len(tc.text) {
			got[i] = '.'
			if s.In(tc.text[i]) {
				got[i] = 's'
			}
		}
		if string(got) != tc.in {
			t.Errorf("%s: %s, want %s", tc.text, got, tc.in)
		}
	}
}
