package rules

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(shopYAML))
	f.Add([]byte("events:\n  - name: a.b\n    match: {path: \"/x/{id}/*\", method: [get], status: [2xx, 404]}\n    when: has(request.body.a) && previous.x != path.id\n    redact: [\"*.t\"]\n    state: {key: \"x:{path.id}\"}\n"))
	f.Add([]byte("events: [{name: a, match: {path: /}, data: {a: {b: request.body.@keys}}}]"))
	f.Add([]byte("events:\n  - match: {path: \"/o/{id}\"}\n    state: {key: \"o:{path.id}\", snapshot: response.body.data, prefetch: {request: \"GET /o/{path.id}\", select: data}}\n"))
	f.Add([]byte("x: &a [*a]\n"))
	f.Add([]byte("events:\n  - &r {name: a, match: {path: /}}\n  - *r\n"))
	f.Add([]byte("events:\n  - match: {path: \"/o/{id}\"}\n    state: {key: \"o:{path.id}:{request.headers.X-T}\", snapshot: response.body.o, prefetch: \"GET /o/{path.id}\"}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		specs, err := Parse("f.yaml", src)
		if err != nil {
			return
		}
		set, err := Compile(specs)
		if err != nil {
			return
		}
		set.Matches("GET", "/")
		set.Events()
	})
}

const fuzzRules = `events:
  - name: r.whole
    match: {path: "/*"}
    data: request.body
    redact: [password, "*.token", "a.*.b"]
    user_id: response.body.user
    site: response.body.site
  - name: r.fields
    match: {path: "/{a}/*"}
    data:
      a: path.a
      keys: request.body.@keys
      vals: response.body.@values
      skus: response.body.items.#.sku
      q: response.body.items.#(price>10)#
      multi: "response.body.{id,name}"
      str: response.body.s|@fromstr
      tostr: response.body.@tostr
      pretty: response.body.@pretty
      dig: response.body.@dig:token
      prev: previous.status
      h: request.headers.Content-Type
    redact: ["*.id"]
    state: {key: "f:{path.a}", snapshot: none}
  - name: r.when
    match: {path: "/*"}
    when: >-
      previous.status != response.body.status &&
      (size(request.body) > 0 || request.body.a.b == null) &&
      has(response.body.items) && response.body.items.exists(i, i.price > 1)
    data: response.body.items
    state: {key: "w:{request.path}", snapshot: request.body}
  - name: r.site
    match: {path: "/*"}
    when: request.body == response.body
    site: request.body
  - name: r.state
    match: {path: "/{a}/*"}
    state: {key: "k:{path.a}/{request.headers.X-K}", prefetch: "GET /{path.a}/{request.query.q}"}
  - match: {path: "/*"}
    state: {key: "late:{response.body.id}:{request.body.x}", snapshot: request.body}
`

func FuzzEval(f *testing.F) {
	set := mustSet(f, fuzzRules)
	f.Add("/x/y", []byte(`{"a":{"b":1},"password":"p","token":"t"}`), []byte(`{"items":[{"sku":"a","price":12,"token":1}],"status":"x","user":5,"s":"{\"k\":1}"}`), []byte(`{"status":"y"}`), false, 200)
	f.Add("/", []byte(`a=1&a=2&token=x`), []byte(`[1,2,{"id":3}]`), []byte(nil), true, 201)
	f.Add("/a/b/c", []byte(`"str"`), []byte(`{"s":"{bad"}`), []byte(`nonsense`), false, 500)
	f.Add("//", []byte(``), []byte(`null`), []byte(`[]`), true, 0)
	f.Add("/x/y", []byte("{\"password\":\"\xff\"}"), []byte("{\"user\":\"\xfe\",\"site\":\"\xc3\"}"), []byte("{\"status\":\"\xe2\x82\"}"), false, 200)
	f.Fuzz(func(t *testing.T, path string, body, respBody, prev []byte, form bool, status int) {
		in := &Input{
			Method: "POST", Path: path, Header: http.Header{}, Body: body, Status: status,
			RespHeader: http.Header{}, RespBody: respBody, Previous: prev,
		}
		if form {
			in.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		cands := set.Candidates("POST", path)
		if set.Matches("POST", path) != (len(cands) > 0) {
			t.Fatalf("Matches and Candidates disagree on %q", path)
		}
		for _, c := range cands {
			// State: keys, prefetch paths and snapshots never panic and
			// fail only with a SkipError.
			for _, err := range []error{
				func() error { _, err := c.StateKey(in); return err }(),
				func() error { _, _, _, err := c.Prefetch(in); return err }(),
				func() error { _, err := c.Snapshot(in); return err }(),
			} {
				var se *SkipError
				if err != nil && (!errors.As(err, &se) || se.Reason == "") {
					t.Fatalf("%s: state error %v is not a SkipError", c.Rule.Name(), err)
				}
			}
			ev, err := c.Eval(in)
			if err != nil {
				var se *SkipError
				if !errors.As(err, &se) || se.Reason == "" {
					t.Fatalf("%s: error %v is not a SkipError", c.Rule.Name(), err)
				}
				continue
			}
			if ev == nil {
				continue
			}
			if !json.Valid(ev.Data) || !utf8.Valid(ev.Data) {
				t.Fatalf("%s: invalid data %q", c.Rule.Name(), ev.Data)
			}
			if ev.UserID != nil && (!json.Valid(ev.UserID) || !utf8.Valid(ev.UserID)) {
				t.Fatalf("%s: invalid user_id %q", c.Rule.Name(), ev.UserID)
			}
			if !utf8.ValidString(ev.Site) {
				t.Fatalf("%s: invalid site %q", c.Rule.Name(), ev.Site)
			}
		}
	})
}

// FuzzWhen feeds arbitrary CEL text through compile and evaluation.
func FuzzWhen(f *testing.F) {
	pp, err := compilePath("/o/{id}")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`previous.status != response.body.status`,
		`request.body.items.exists(i, i.price > 10) && has(request.body.x.y)`,
		`request.headers["X-A"] == path.id || request.body[0].a[1] == null`,
		`size(request.body.items) > 0 && response.status in [200, 201]`,
		`request.body.?a.orValue(1) == 1`,
	} {
		f.Add(s, []byte(`{"items":[{"price":11}],"x":null}`))
	}
	f.Fuzz(func(t *testing.T, expr string, body []byte) {
		w, err := compileWhen(expr, pp)
		if err != nil {
			return
		}
		in := &Input{Method: "PUT", Path: "/o/1", Body: body, Status: 200, RespBody: body, Previous: body}
		if w.needsReq {
			if _, err := in.requestBody(); err != nil {
				return
			}
		}
		if w.needsResp {
			if _, err := in.responseBody(); err != nil {
				return
			}
		}
		_, _ = w.eval(context.Background(), in, map[string]string{"id": "1"})
	})
}
