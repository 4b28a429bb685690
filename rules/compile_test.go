package rules

import (
	"reflect"
	"strings"
	"testing"
)

// loadErr is the error of parsing and compiling src as the file t.yaml.
func loadErr(src string) error {
	specs, err := Parse("t.yaml", []byte(src))
	if err == nil {
		_, err = Compile(specs)
	}
	return err
}

func mustSet(t testing.TB, src string) *Set {
	t.Helper()
	specs, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestCompileErrors(t *testing.T) {
	rule := func(body string) string {
		return "events:\n  - name: order.created\n" + body
	}
	tests := []struct{ name, src, want string }{
		{"missing name", "events:\n  - match: {path: /x}\n", "t.yaml:2: event #1: missing name"},
		{"bad name", "events:\n  - name: order created\n    match: {path: /x}\n", `t.yaml:2: event order created: bad name "order created"`},
		{"star name", "events:\n  - name: order.*\n    match: {path: /x}\n", `bad name "order.*"`},
		{"empty part", "events:\n  - name: order..x\n    match: {path: /x}\n", `bad name`},
		{"reserved", "events:\n  - name: webhook.test\n    match: {path: /x}\n", `t.yaml:2: event webhook.test: the name "webhook.test" is reserved`},
		{"missing match", rule(""), "t.yaml:2: event order.created: missing match.path"},
		{"missing path", rule("    match:\n      method: GET\n"), "t.yaml:3: event order.created: missing match.path"},
		{"relative path", rule("    match:\n      path: api\n"), `t.yaml:4: event order.created: bad path pattern "api": must start with /`},
		{"star middle", rule("    match: {path: /a/*/b}\n"), `bad path pattern "/a/*/b"`},
		{"brace literal", rule("    match: {path: \"/a/x{id}\"}\n"), `bad path pattern`},
		{"empty seg", rule("    match: {path: /a//b}\n"), `bad path pattern "/a//b": empty segment`},
		{"dup param", rule("    match: {path: \"/a/{id}/{id}\"}\n"), `appears twice`},
		{"bad param", rule("    match: {path: \"/a/{1x}\"}\n"), `parameter "1x"`},
		{"bad method", rule("    match:\n      path: /x\n      method: [GET, \"PO ST\"]\n"), `t.yaml:5: event order.created: bad method "PO ST"`},
		{"bad status", rule("    match:\n      path: /x\n      status: 2xy\n"), `t.yaml:5: event order.created: bad status "2xy"`},
		{"status range", rule("    match:\n      path: /x\n      status: [200, 600]\n"), `bad status "600"`},
		{"status class", rule("    match:\n      path: /x\n      status: 6xx\n"), `bad status "6xx"`},
		{"unknown source", rule("    match: {path: /x}\n    data:\n      a: reponse.body.x\n"), `t.yaml:5: event order.created: data.a: unknown source "reponse.body.x"`},
		{"unknown param", rule("    match: {path: \"/x/{id}\"}\n    data:\n      a:\n        b: path.uid\n"), `t.yaml:6: event order.created: data.a.b: source "path.uid": the path pattern has no {uid}`},
		{"bad gjson", rule("    match: {path: /x}\n    data: response.body.a..b\n"), `t.yaml:4: event order.created: data: source "response.body.a..b": bad gjson path "a..b": empty component`},
		{"bad modifier", rule("    match: {path: /x}\n    site: request.body.@nope\n"), `t.yaml:4: event order.created: site: source "request.body.@nope": bad gjson path "@nope": unknown modifier @nope`},
		{"unbalanced", rule("    match: {path: /x}\n    user_id: \"request.body.items.#(a==1\"\n"), `user_id: source "request.body.items.#(a==1": bad gjson path`},
		{"bad header", rule("    match: {path: /x}\n    site: request.headers.X Y\n"), `is not a header name`},
		{"bad redact", rule("    match: {path: /x}\n    redact: [a., b]\n"), `t.yaml:4: event order.created: redact: entry "a.": empty component`},
		{"redact star", rule("    match: {path: /x}\n    redact: [\"a.*\"]\n"), `must end with a key name`},
		{"bad when", rule("    match: {path: /x}\n    when: foo == 1\n"), `t.yaml:4: event order.created: when: undeclared reference to 'foo' (column 1)`},
		{"when field", rule("    match: {path: /x}\n    when: request.bdy == 1\n"), `when: request has no field "bdy"`},
		{"state no key", rule("    match: {path: \"/o/{id}\"}\n    state:\n      snapshot: response.body\n"), `t.yaml:4: event order.created: state: key is required`},
		{"state key source", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"order:{path.uid}\"\n"), `t.yaml:5: event order.created: state.key: source "path.uid": the path pattern has no {uid}`},
		{"state key brace", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"order:{path.id\"\n"), `state.key: "order:{path.id": unclosed {`},
		{"state snapshot", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      snapshot: response.bdy\n"), `t.yaml:6: event order.created: state.snapshot: unknown source "response.bdy"`},
		{"state snapshot previous", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      snapshot: previous\n"), `state.snapshot: previous would keep`},
		{"prefetch form", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      prefetch: /o/{path.id}\n"), `t.yaml:6: event order.created: state.prefetch: want "GET /path/{path.id}"`},
		{"prefetch verb", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      prefetch: POST /o/{path.id}\n"), `state.prefetch: only GET fetches state`},
		{"prefetch late path", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      prefetch: GET /o/{response.body.id}\n"), `state.prefetch: the path may use only path.<param>, request.*`},
		{"prefetch late key", rule("    match: {path: /o}\n    state:\n      key: \"o:{response.body.id}\"\n      prefetch: GET /o\n"), `state.prefetch needs a key known before`},
		{"state key previous", rule("    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{previous.id}\"\n"), `t.yaml:5: event order.created: state.key: a key cannot read previous`},
		{"state only with data", "events:\n  - match: {path: /x}\n    state: {key: x}\n    data: request.path\n", `t.yaml:4: event #1: data: a rule without a name emits nothing`},
		{"when not bool", rule("    match: {path: /x}\n    when: response.status + 1\n"), `when: must be a boolean expression, not int`},
		{"when too costly", rule("    match: {path: /x}\n    when: request.body.items.all(x, request.body.items.all(y, true))\n"), `t.yaml:4: event order.created: when: too costly: its cost is estimated up to `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = Compile(specs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCompileInlineErrors(t *testing.T) {
	specs := []Spec{
		{Name: "a.b", Match: MatchSpec{Path: "/ok"}},
		{Name: "c.d", Match: MatchSpec{Path: "/x", Status: StringList{"99"}}, Data: &Data{Source: "nope"}},
	}
	_, err := Compile(specs)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`events[1]: event c.d: bad status "99"`, `events[1]: event c.d: data: unknown source "nope"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "events[0]") {
		t.Errorf("%q blames the good rule", msg)
	}
}

func TestSetMatching(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.created
    description: first
    match: {method: post, path: /api/orders, status: 201}
  - name: order.updated
    match: {method: [PUT, PATCH], path: "/api/orders/{id}"}
  - name: order.updated
    description: any method
    match: {path: "/api/orders/{id}/items/{item}"}
  - name: files.touched
    match: {method: GET, path: /files/*}
  - name: root.hit
    match: {method: GET, path: /}
`)
	tests := []struct {
		method, path string
		want         []string // rule names
		params       []map[string]string
	}{
		{"POST", "/api/orders", []string{"order.created"}, []map[string]string{nil}},
		{"GET", "/api/orders", nil, nil},
		{"POST", "/api/orders/", nil, nil},
		{"POST", "/api/Orders", nil, nil},
		{"PUT", "/api/orders/42", []string{"order.updated"}, []map[string]string{{"id": "42"}}},
		{"PATCH", "/api/orders/42", []string{"order.updated"}, []map[string]string{{"id": "42"}}},
		{"PUT", "/api/orders/", nil, nil},
		{"PUT", "/api/orders/42/x", nil, nil},
		{"DELETE", "/api/orders/1/items/2", []string{"order.updated"}, []map[string]string{{"id": "1", "item": "2"}}},
		{"GET", "/files/", []string{"files.touched"}, []map[string]string{nil}},
		{"GET", "/files/a/b/c", []string{"files.touched"}, []map[string]string{nil}},
		{"GET", "/files", nil, nil},
		{"GET", "/", []string{"root.hit"}, []map[string]string{nil}},
		{"GET", "", nil, nil},
		{"GET", "files/x", nil, nil},
	}
	for _, tt := range tests {
		if got := set.Matches(tt.method, tt.path); got != (len(tt.want) > 0) {
			t.Errorf("Matches(%s %s) = %v", tt.method, tt.path, got)
		}
		cands := set.Candidates(tt.method, tt.path)
		var names []string
		var params []map[string]string
		for _, c := range cands {
			names = append(names, c.Rule.Name())
			params = append(params, c.Params)
		}
		if !reflect.DeepEqual(names, tt.want) || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("Candidates(%s %s) = %v %v, want %v %v", tt.method, tt.path, names, params, tt.want, tt.params)
		}
	}
	wantEvents := []EventInfo{{"files.touched", ""}, {"order.created", "first"}, {"order.updated", "any method"}, {"root.hit", ""}}
	if got := set.Events(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("Events() = %v", got)
	}
	if n := len(set.Rules()); n != 5 {
		t.Errorf("%d rules", n)
	}
	r := set.Rules()[0]
	if !r.MatchesStatus(201) || r.MatchesStatus(200) || r.Description() != "first" || r.Pos().Line != 2 {
		t.Errorf("rule 0: %+v", r)
	}
	if r := set.Rules()[1]; !r.MatchesStatus(204) || r.MatchesStatus(301) {
		t.Error("default status is not 2xx")
	}
}

func TestMatchesDoesNotAllocate(t *testing.T) {
	set := mustSet(t, `events:
  - name: a.b
    match: {method: POST, path: "/api/orders/{id}/status"}
  - name: a.c
    match: {path: "/api/x/*"}
`)
	paths := []string{"/api/orders/42/status", "/api/orders/42/nope", "/other", "/api/x/y/z"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			set.Matches("POST", p)
			set.Matches("GET", p)
		}
	})
	if allocs != 0 {
		t.Fatalf("Matches allocates %v times per run", allocs)
	}
}

func TestNeedsBodies(t *testing.T) {
	set := mustSet(t, `events:
  - name: a.none
    match: {path: "/x/{id}"}
    data: {id: path.id, m: request.method, h: request.headers.x-trace, s: response.status}
    when: response.status == 201 && request.query.dry == null
  - name: a.req
    match: {path: /x}
    site: request.body.site
  - name: a.resp
    match: {path: /x}
    user_id: response.body.user
  - name: a.when
    match: {path: /x}
    when: request.body.a == response.body.a
  - name: a.data
    match: {path: /x}
    data: previous
    state: {key: x, snapshot: none}
`)
	want := map[string][2]bool{
		"a.none": {false, false}, "a.req": {true, false}, "a.resp": {false, true}, "a.when": {true, true}, "a.data": {false, false},
	}
	for _, r := range set.Rules() {
		if got := [2]bool{r.NeedsRequestBody(), r.NeedsResponseBody()}; got != want[r.Name()] {
			t.Errorf("%s: needs %v, want %v", r.Name(), got, want[r.Name()])
		}
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if s.Matches("GET", "/") || s.Candidates("GET", "/") != nil || s.Rules() != nil || s.Events() != nil {
		t.Fatal("nil set matched something")
	}
}
