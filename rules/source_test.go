package rules

import (
	"errors"
	"testing"
)

func TestCompileSource(t *testing.T) {
	pp, _ := compilePath("/api/{id}")
	tests := []struct {
		raw  string
		want source
		err  error
	}{
		{"request.method", source{kind: srcRequestMethod}, nil},
		{"request.path", source{kind: srcRequestPath}, nil},
		{"request.headers.x-user-id", source{kind: srcRequestHeader, name: "X-User-Id"}, nil},
		{"request.query.page", source{kind: srcRequestQuery, name: "page"}, nil},
		{"request.body", source{kind: srcRequestBody}, nil},
		{"request.body.@keys", source{kind: srcRequestBody, path: "@keys"}, nil},
		{"response.status", source{kind: srcResponseStatus}, nil},
		{"response.headers.Location", source{kind: srcResponseHeader, name: "Location"}, nil},
		{"response.body.items.#.sku", source{kind: srcResponseBody, path: "items.#.sku"}, nil},
		{`response.body.items.#(price>10)#.sku`, source{kind: srcResponseBody, path: `items.#(price>10)#.sku`}, nil},
		{`response.body.{id,name}`, source{kind: srcResponseBody, path: `{id,name}`}, nil},
		{`response.body.a\.b`, source{kind: srcResponseBody, path: `a\.b`}, nil},
		{`response.body.items|@reverse|0`, source{kind: srcResponseBody, path: `items|@reverse|0`}, nil},
		{`response.body.@join:{"preserve":true}`, source{kind: srcResponseBody, path: `@join:{"preserve":true}`}, nil},
		{"path.id", source{kind: srcParam, name: "id"}, nil},
		{"previous", source{kind: srcPrevious}, nil},
		{"previous.status", source{kind: srcPrevious, path: "status"}, nil},
		{"path.other", source{}, nil},
		{"request.headers.", source{}, nil},
		{"request.headers.a b", source{}, nil},
		{"request.bodyx", source{}, errUnknownSource},
		{"response", source{}, errUnknownSource},
		{"body.x", source{}, errUnknownSource},
		{"", source{}, errUnknownSource},
		{"request.body.", source{}, errBadGJSON},
		{"request.body.a..b", source{}, errBadGJSON},
		{"request.body.a.", source{}, errBadGJSON},
		{"request.body.a|", source{}, errBadGJSON},
		{"request.body.@nope", source{}, errBadGJSON},
		{"request.body.a.@nope:1", source{}, errBadGJSON},
		{"request.body.#(a==1", source{}, errBadGJSON},
		{"request.body.a)", source{}, errBadGJSON},
		{"request.body.{a,b]", source{}, errBadGJSON},
		{`request.body.#(a=="x)`, source{}, errBadGJSON},
		{`request.body.a\`, source{}, errBadGJSON},
	}
	for _, tt := range tests {
		got, err := compileSource(tt.raw, pp)
		wantErr := tt.err != nil || tt.want == (source{})
		switch {
		case wantErr && err == nil:
			t.Errorf("%q: got %+v, want an error", tt.raw, got)
		case !wantErr && err != nil:
			t.Errorf("%q: %v", tt.raw, err)
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("%q: got %v, want %v", tt.raw, err, tt.err)
		case !wantErr && got != tt.want:
			t.Errorf("%q: got %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		list []string
		in   []int
		out  []int
		bad  bool
	}{
		{nil, []int{200, 201, 299}, []int{199, 300, 404, 0, 1000}, false},
		{[]string{"201"}, []int{201}, []int{200, 202}, false},
		{[]string{"2XX", "404"}, []int{200, 250, 404}, []int{403, 500}, false},
		{[]string{"5xx"}, []int{500, 599}, []int{499, 600}, false},
		{[]string{"099"}, nil, nil, true},
		{[]string{"20"}, nil, nil, true},
		{[]string{"2000"}, nil, nil, true},
		{[]string{"x"}, nil, nil, true},
		{[]string{"0xx"}, nil, nil, true},
		{[]string{""}, nil, nil, true},
	}
	for _, tt := range tests {
		s, err := compileStatus(tt.list)
		if (err != nil) != tt.bad {
			t.Errorf("%v: err %v", tt.list, err)
			continue
		}
		for _, c := range tt.in {
			if !s.has(c) {
				t.Errorf("%v: %d not matched", tt.list, c)
			}
		}
		for _, c := range tt.out {
			if s.has(c) {
				t.Errorf("%v: %d matched", tt.list, c)
			}
		}
	}
}

func TestPathPattern(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    bool
		params  map[string]string
	}{
		{"/api/orders", "/api/orders", true, map[string]string{}},
		{"/api/orders", "/api/orders/", false, nil},
		{"/api/orders/", "/api/orders/", true, map[string]string{}},
		{"/api/orders/", "/api/orders", false, nil},
		{"/api/{id}", "/api/1", true, map[string]string{"id": "1"}},
		{"/api/{id}", "/api/", false, nil},
		{"/api/{id}/x", "/api//x", false, nil},
		{"/api/*", "/api/", true, map[string]string{}},
		{"/api/*", "/api/a/b", true, map[string]string{}},
		{"/api/*", "/api", false, nil},
		{"/api/*", "/apix", false, nil},
		{"/{a}/{b}/*", "/1/2/3/4", true, map[string]string{"a": "1", "b": "2"}},
		{"/*", "/", true, map[string]string{}},
		{"/", "/", true, map[string]string{}},
		{"/", "/a", false, nil},
		{"/", "", false, nil},
		{"/a", "a", false, nil},
	}
	for _, tt := range tests {
		p, err := compilePath(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		params := map[string]string{}
		if got := p.match(tt.path, params); got != tt.want {
			t.Errorf("%s ~ %q = %v", tt.pattern, tt.path, got)
		} else if got {
			for k, v := range tt.params {
				if params[k] != v {
					t.Errorf("%s ~ %q: params %v", tt.pattern, tt.path, params)
				}
			}
		}
	}
	for _, bad := range []string{"", "x", "/a/*/b", "/a*", "/a/{b", "/a/{}", "/a/{b-c}", "//", "/a//", "/a?b", "/{x}/{x}"} {
		if _, err := compilePath(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
