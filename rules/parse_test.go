package rules

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const shopYAML = `events:
  - name: order.created
    description: A new order was placed
    match:
      method: POST
      path: /api/orders
      status: 201
    data:
      orderId: response.body._id
      orderNumber: response.body.orderNumber
      total: response.body.total
      siteId: response.body.site
    site: response.body.site

  - name: order.status_changed
    match: { method: [PUT, patch], path: "/api/orders/{id}/status", status: 2xx }
    when: previous.status != response.body.status
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
    state: {key: "order:{path.id}"}

  - name: customer.created
    match: { method: POST, path: /api/customers, status: [201, "200"] }
    data: response.body
    redact: [password, passwordHash, "*.token"]
    user_id: request.headers.X-User-Id

  - name: customer.updated
    match: { method: PUT, path: "/api/customers/{id}", status: 2xx }
    data:
      customerId: path.id
      changedFields: request.body.@keys
      nested:
        deep: request.body.a
`

func TestParse(t *testing.T) {
	specs, err := Parse("shop.yaml", []byte(shopYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 4 {
		t.Fatalf("got %d specs", len(specs))
	}
	s := specs[0]
	if s.Name != "order.created" || s.Description != "A new order was placed" ||
		!reflect.DeepEqual(s.Match, MatchSpec{Method: StringList{"POST"}, Path: "/api/orders", Status: StringList{"201"}}) ||
		s.Site != "response.body.site" {
		t.Errorf("spec 0: %+v", s)
	}
	if got, _ := json.Marshal(s.Data); string(got) != `{"orderId":"response.body._id","orderNumber":"response.body.orderNumber","total":"response.body.total","siteId":"response.body.site"}` {
		t.Errorf("data 0: %s", got)
	}
	wantPos := Pos{File: "shop.yaml", Line: 2, Fields: map[string]int{
		"name": 2, "description": 3, "match": 4, "match.method": 5, "match.path": 6, "match.status": 7,
		"data": 8, "data.orderId": 9, "data.orderNumber": 10, "data.total": 11, "data.siteId": 12, "site": 13,
	}}
	if !reflect.DeepEqual(s.Pos, wantPos) {
		t.Errorf("pos 0: %+v", s.Pos)
	}
	if s := specs[1]; !reflect.DeepEqual(s.Match.Method, StringList{"PUT", "patch"}) || s.Match.Status[0] != "2xx" ||
		s.When != "previous.status != response.body.status" || s.Pos.Fields["when"] != 17 {
		t.Errorf("spec 1: %+v", s)
	}
	if s := specs[2]; s.Data.Source != "response.body" || !reflect.DeepEqual(s.Redact, []string{"password", "passwordHash", "*.token"}) ||
		s.UserID != "request.headers.X-User-Id" || !reflect.DeepEqual(s.Match.Status, StringList{"201", "200"}) {
		t.Errorf("spec 2: %+v", s)
	}
	if s := specs[3]; s.Pos.Fields["data.nested.deep"] != 36 {
		t.Errorf("spec 3 fields: %v", s.Pos.Fields)
	}
	if _, err := Compile(specs); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"empty", "", "f.yaml: empty rule file"},
		{"comment only", "# nothing\n", "f.yaml: empty rule file"},
		{"null", "~\n", "f.yaml:1: empty rule file"},
		{"no events key", "rules: []\n", `f.yaml:1: unknown key "rules" in the top level`},
		{"events null", "events:\n", `f.yaml:1: no events`},
		{"events empty", "events: []\n", `f.yaml:1: no events`},
		{"events not list", "events: {a: 1}\n", `f.yaml:1: "events" must be a list`},
		{"top not mapping", "- a\n", `f.yaml:1: the top level must be a mapping`},
		{"syntax", "events:\n  - name: a\n    match: {path: /x\n", "f.yaml:"},
		{"tab", "events:\n\t- name: x\n", "f.yaml:2: found character that cannot start any token"},
		{"unknown in match", "events:\n  - name: a\n    match:\n      methd: GET\n      path: /x\n", `f.yaml:4: unknown key "methd" in match`},
		{"unknown in rule", "events:\n  - name: a\n    match: {path: /x}\n    stat: {key: x}\n", `f.yaml:4: unknown key "stat" in rule`},
		{"unknown in state", "events:\n  - name: a\n    match: {path: /x}\n    state:\n      key: x\n      snapshop: response.body\n", `f.yaml:6: unknown key "snapshop" in state`},
		{"duplicate key", "events:\n  - name: a\n    name: b\n    match: {path: /x}\n", `f.yaml:3: duplicate key "name" in rule (first on line 2)`},
		{"duplicate data key", "events:\n  - name: a\n    match: {path: /x}\n    data:\n      a: request.path\n      a: request.path\n", `f.yaml:6: duplicate key "a" in data`},
		{"rule not mapping", "events:\n  - a\n", `f.yaml:2: each entry of "events" must be a mapping`},
		{"name list", "events:\n  - name: [a]\n    match: {path: /x}\n", `f.yaml:2: name must be a string`},
		{"match not mapping", "events:\n  - name: a\n    match: /x\n", `f.yaml:3: match must be a mapping`},
		{"data list", "events:\n  - name: a\n    match: {path: /x}\n    data: [a]\n", `f.yaml:4: data must be a source or a mapping`},
		{"data field empty", "events:\n  - name: a\n    match: {path: /x}\n    data:\n      a:\n", `f.yaml:5: data.a: empty source`},
		{"status map", "events:\n  - name: a\n    match: {path: /x, status: {a: 1}}\n", `f.yaml:3: match.status must be a value or a list`},
		{"two documents", "events: [{name: a, match: {path: /x}}]\n---\nevents: []\n", `f.yaml:2: only one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// An unquoted {param} in a flow mapping breaks the YAML: the error says
// to quote it, on its line (yaml.v3 alone says the line before).
func TestParseFlowBraceHint(t *testing.T) {
	const hint = `did not find expected ',' or '}': inside a { } mapping, quote a value that holds {braces}: `
	tests := []struct{ name, src, want string }{
		{"path", "events:\n  - name: order.updated\n    match: {method: PUT, path: /api/orders/{id}}\n",
			`f.yaml:3: ` + hint + `path: "/api/orders/{id}"`},
		{"path first", "events:\n  - name: order.updated\n    match: {path: /api/orders/{id}/status, method: PUT}\n",
			`f.yaml:3: ` + hint + `path: "/api/orders/{id}/status"`},
		{"state key", "events:\n  - name: a\n    match: {path: \"/o/{id}\"}\n    state: {key: order:{path.id}}\n",
			`f.yaml:4: ` + hint + `key: "order:{path.id}"`},
		{"two lines", "events:\n  - name: a\n    match: {method: PUT,\n      path: /o/{id}}\n",
			`f.yaml:4: ` + hint + `path: "/o/{id}"`},
		{"first line", "events: [{name: a, match: {path: /a/{id}}}]\n",
			`f.yaml:1: ` + hint + `path: "/a/{id}"`},
		{"not closed", "events:\n  - name: a\n    match: {method: PUT, path: /x\n    state:\n      key: o:{path.id}\n",
			`f.yaml:3: did not find expected ',' or '}' in the { } mapping that starts on this line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.src))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// Rules that would silently misbehave are refused at load.
func TestCompileRefusals(t *testing.T) {
	rule := "events:\n  - name: order.closed\n    match: {method: PUT, path: \"/o/{id}\"}\n"
	const noState = "reads previous, but the rule has no state, so previous would always be null: " +
		`give the rule a state with the resource's key (state: {key: "order:{path.id}"})`
	const methods = ": want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (leave method out for any method)"
	tests := []struct{ name, src, want string }{
		{"previous in when", rule + "    when: response.body.status == \"closed\" && previous.status != \"closed\"\n",
			`f.yaml:4: event order.closed: when ` + noState},
		{"previous in data", rule + "    data:\n      id: path.id\n      old:\n        status: previous.status\n",
			`f.yaml:7: event order.closed: data.old.status ` + noState},
		{"previous as data", rule + "    data: previous\n", `f.yaml:4: event order.closed: data ` + noState},
		{"previous in site", rule + "    site: previous.site\n", `f.yaml:4: event order.closed: site ` + noState},
		{"previous in user_id", rule + "    user_id: previous.owner\n", `f.yaml:4: event order.closed: user_id ` + noState},
		{"typo method", "events:\n  - name: a\n    match:\n      path: /x\n      method: POSTT\n",
			`f.yaml:5: event a: bad method "POSTT"` + methods},
		{"method in list", "events:\n  - name: a\n    match: {path: /x, method: [GET, FETCH]}\n",
			`f.yaml:3: event a: bad method "FETCH"` + methods},
		{"star method", "events:\n  - name: a\n    match: {path: /x, method: \"*\"}\n",
			`f.yaml:3: event a: bad method "*"` + methods},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := Parse("f.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(specs)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
	// With state, previous is fine; methods are case-insensitive.
	mustSet(t, rule+"    state: {key: \"o:{path.id}\"}\n    when: previous.status != \"closed\"\n")
	mustSet(t, "events:\n  - name: a\n    match: {path: /x, method: [get, Head, OPTIONS, delete]}\n")
}

func TestParseAliases(t *testing.T) {
	src := `x-match: &m {method: POST, path: /api/orders}
events:
  - name: a.b
    match: *m
`
	_, err := Parse("f.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `unknown key "x-match"`) {
		t.Fatalf("got %v", err)
	}
	src = `events:
  - name: a.b
    match: &m {method: POST, path: /api/orders}
  - name: a.c
    match: *m
`
	specs, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if specs[1].Match.Path != "/api/orders" {
		t.Fatalf("alias not followed: %+v", specs[1])
	}
	// An alias bomb is cut short instead of expanding.
	var b strings.Builder
	b.WriteString("events:\n  - name: a\n    match: {path: /x}\n    data:\n      l0: &l0 {a: request.path, b: request.path}\n")
	for i := 1; i < 30; i++ {
		b.WriteString("      l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " {a: *l" + strconv.Itoa(i-1) + ", b: *l" + strconv.Itoa(i-1) + "}\n")
	}
	if _, err := Parse("f.yaml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "too many aliases") {
		t.Fatalf("got %v", err)
	}
}
