package rules

import "testing"

func TestRedact(t *testing.T) {
	doc := `{"password":"p","user":{"password":"q","token":"t","name":"n"},"items":[{"token":1,"a":{"token":2,"b":3}},5],"token":"x","keep":"\u00e9\"k"}`
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"password"}, `{"user":{"password":"q","token":"t","name":"n"},"items":[{"token":1,"a":{"token":2,"b":3}},5],"token":"x","keep":"\u00e9\"k"}`},
		{[]string{"user.password", "user.name"}, `{"password":"p","user":{"token":"t"},"items":[{"token":1,"a":{"token":2,"b":3}},5],"token":"x","keep":"\u00e9\"k"}`},
		{[]string{"*.token"}, `{"password":"p","user":{"password":"q","name":"n"},"items":[{"a":{"b":3}},5],"keep":"\u00e9\"k"}`},
		{[]string{"items.a.b"}, `{"password":"p","user":{"password":"q","token":"t","name":"n"},"items":[{"token":1,"a":{"token":2}},5],"token":"x","keep":"\u00e9\"k"}`},
		{[]string{"items.*.b", "keep"}, `{"password":"p","user":{"password":"q","token":"t","name":"n"},"items":[{"token":1,"a":{"token":2}},5],"token":"x"}`},
		{[]string{"nope", "user.nope.x"}, doc},
	}
	for _, tt := range tests {
		r, err := compileRedact(tt.paths)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(r.apply([]byte(doc))); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.paths, got, tt.want)
		}
	}
	// Scalars and arrays at the top pass through.
	r, _ := compileRedact([]string{"*.a"})
	for _, in := range []string{`"s"`, `1`, `null`, `[{"a":1,"b":2}]`} {
		want := in
		if in[0] == '[' {
			want = `[{"b":2}]`
		}
		if got := string(r.apply([]byte(in))); got != want {
			t.Errorf("%s: got %s", in, got)
		}
	}
	for _, bad := range [][]string{{""}, {"a..b"}, {".a"}, {"*"}, {"a.*"}} {
		if _, err := compileRedact(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
