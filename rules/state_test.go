package rules

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestState(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.status_changed
    match: {method: PUT, path: "/api/orders/{id}/status"}
    state:
      key: "order:{path.id}"
      prefetch: "GET /api/orders/{path.id}"
    when: previous.status != response.body.status
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
  - match: {method: GET, path: "/api/orders/{id}"}
    state: {key: "order:{path.id}", snapshot: response.body.order}
  - name: order.created
    match: {method: POST, path: /api/orders, status: 201}
    state: {key: "order:{response.body._id}"}
    data: {id: response.body._id}
  - name: order.paid
    match: {method: POST, path: /hooks/pay}
    state: {key: "order:{request.body.data.order}", prefetch: "GET /api/orders/{request.body.data.order}"}
    data: {orderNumber: previous.orderNumber}
  - name: order.noted
    match: {method: POST, path: "/legacy/{id}/note"}
    state: {key: "order:{path.id}", prefetch: "GET /index.php?route=order/info&id={path.id}&q={request.query.q}"}
  - name: order.refunded
    match: {method: POST, path: /hooks/refund}
    state: {key: "order:{request.body.order}", snapshot: none}
`)
	if got := set.Events(); len(got) != 5 || got[0].Name != "order.created" || got[4].Name != "order.status_changed" {
		t.Errorf("Events() = %v: a state-only rule must not be listed", got)
	}

	put := set.Candidates("PUT", "/api/orders/a b/status")
	if len(put) != 1 || !put[0].Rule.HasState() || !put[0].Rule.StateKeyEarly() || !put[0].Rule.HasPrefetch() {
		t.Fatalf("PUT candidates: %+v", put)
	}
	early := &Input{Method: "PUT", Path: "/api/orders/a b/status", Header: http.Header{}, Query: url.Values{}}
	key, err := put[0].StateKey(early)
	if err != nil || key != "order:a b" {
		t.Errorf("StateKey = %q, %v", key, err)
	}
	m, p, ok, err := put[0].Prefetch(early)
	if err != nil || !ok || m != "GET" || p != "/api/orders/a%20b" {
		t.Errorf("Prefetch = %q %q %v %v", m, p, ok, err)
	}

	// previous feeds when and data; the same Input with another snapshot
	// reads the new one.
	in := &Input{Method: "PUT", Path: "/api/orders/a b/status", Status: 200, RespBody: []byte(`{"_id":"a b","status":"paid"}`)}
	in.SetPrevious([]byte(`{"status":"pending"}`))
	ev, err := put[0].Eval(in)
	if err != nil || ev == nil || string(ev.Data) != `{"orderId":"a b","oldStatus":"pending","newStatus":"paid"}` {
		t.Fatalf("Eval with previous pending: %+v, %v", ev, err)
	}
	in.SetPrevious([]byte(`{"status":"paid"}`))
	if ev, err := put[0].Eval(in); err != nil || ev != nil {
		t.Errorf("Eval with an unchanged status = %+v, %v; want no event", ev, err)
	}
	in.SetPrevious(nil)
	ev, err = put[0].Eval(in)
	if err != nil || ev == nil || string(ev.Data) != `{"orderId":"a b","oldStatus":null,"newStatus":"paid"}` {
		t.Errorf("Eval with no previous: %+v, %v (null != \"paid\" is true)", ev, err)
	}
	snap, err := put[0].Snapshot(in)
	if err != nil || string(snap) != `{"_id":"a b","status":"paid"}` {
		t.Errorf("Snapshot = %s, %v", snap, err)
	}

	get := set.Candidates("GET", "/api/orders/x1")
	if len(get) != 1 || get[0].Rule.Name() != "" || get[0].Rule.HasPrefetch() {
		t.Fatalf("GET candidates: %+v", get)
	}
	gin := &Input{Method: "GET", Path: "/api/orders/x1", Status: 200, RespBody: []byte(`{"order":{"status":"shipped"}}`)}
	if ev, err := get[0].Eval(gin); ev != nil || err != nil {
		t.Errorf("a state-only rule emitted %+v, %v", ev, err)
	}
	if snap, err := get[0].Snapshot(gin); err != nil || string(snap) != `{"status":"shipped"}` {
		t.Errorf("state-only Snapshot = %s, %v", snap, err)
	}

	pay := set.Candidates("POST", "/hooks/pay")
	if len(pay) != 1 || !pay[0].Rule.StateKeyEarly() || !pay[0].Rule.StateNeedsBodyFirst() {
		t.Fatalf("a key read from the request body is early and needs the body first: %+v", pay)
	}
	pin := &Input{Method: "POST", Path: "/hooks/pay", Body: []byte(`{"data":{"order":"o 9"}}`)}
	if k, err := pay[0].StateKey(pin); err != nil || k != "order:o 9" {
		t.Errorf("StateKey from the request body = %q, %v", k, err)
	}
	if _, p, ok, err := pay[0].Prefetch(pin); err != nil || !ok || p != "/api/orders/o%209" {
		t.Errorf("Prefetch from the request body = %q %v %v", p, ok, err)
	}
	if put[0].Rule.StateNeedsBodyFirst() {
		t.Error("a key from path params does not need the body first")
	}

	// A prefetch URL with a query: values escaped for the path before the
	// "?", for the query after it.
	note := set.Candidates("POST", "/legacy/a b/note")
	nin := &Input{Query: url.Values{"q": {"x&y=z"}}}
	if _, p, _, err := note[0].Prefetch(nin); err != nil || p != "/index.php?route=order/info&id=a+b&q=x%26y%3Dz" {
		t.Errorf("Prefetch with a query = %q, %v", p, err)
	}

	refund := set.Candidates("POST", "/hooks/refund")
	if !refund[0].Rule.StateForgets() || put[0].Rule.StateForgets() {
		t.Error("snapshot: none forgets; the default does not")
	}
	if snap, err := refund[0].Snapshot(&Input{Body: []byte(`{"order":"o1"}`)}); snap != nil || err != nil {
		t.Errorf("a forgetting rule's Snapshot = %s, %v", snap, err)
	}

	post := set.Candidates("POST", "/api/orders")
	if post[0].Rule.StateKeyEarly() {
		t.Error("a key read from the response is not known early")
	}
	key, err = post[0].StateKey(&Input{Status: 201, RespBody: []byte(`{"_id":42}`)})
	if err != nil || key != "order:42" {
		t.Errorf("late StateKey = %q, %v", key, err)
	}
	if _, err := post[0].StateKey(&Input{Status: 201, RespBody: []byte(`{}`)}); err == nil {
		t.Error("a key with a missing part gave no error")
	}
}

// A snapshot holds nothing the rule redacts from its data, nor what its
// own redact (the long form of snapshot) removes.
func TestSnapshotRedact(t *testing.T) {
	set := mustSet(t, `events:
  - name: customer.created
    match: {method: POST, path: /api/customers}
    state: {key: "customer:{response.body.id}"}
    data: response.body
    redact: [password, "*.token"]
  - match: {method: GET, path: "/api/customers/{id}"}
    state:
      key: "customer:{path.id}"
      snapshot: {source: response.body.customer, redact: [password, profile.ssn]}
  - name: customer.updated
    match: {method: PUT, path: "/api/customers/{id}"}
    state:
      key: "customer:{path.id}"
      snapshot: {redact: [ssn]}
    data: {id: path.id}
    redact: [password]
`)
	body := `{"id":"c1","password":"hunter2","name":"Ann","profile":{"ssn":"123","token":"t","city":"Lyon"},"ssn":"9"}`
	tests := []struct {
		method, path, resp, want string
	}{
		{"POST", "/api/customers", body, `{"id":"c1","name":"Ann","profile":{"ssn":"123","city":"Lyon"},"ssn":"9"}`},
		{"GET", "/api/customers/c1", `{"customer":` + body + `}`, `{"id":"c1","name":"Ann","profile":{"token":"t","city":"Lyon"},"ssn":"9"}`},
		{"PUT", "/api/customers/c1", body, `{"id":"c1","name":"Ann","profile":{"ssn":"123","token":"t","city":"Lyon"}}`},
	}
	for _, tt := range tests {
		c := set.Candidates(tt.method, tt.path)[0]
		snap, err := c.Snapshot(&Input{Method: tt.method, Path: tt.path, Status: 200, RespBody: []byte(tt.resp)})
		if err != nil || string(snap) != tt.want {
			t.Errorf("%s %s: Snapshot = %s, %v\nwant %s", tt.method, tt.path, snap, err, tt.want)
		}
	}
}

func TestSnapshotLongFormErrors(t *testing.T) {
	rule := "events:\n  - name: a.b\n    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      snapshot:\n"
	tests := []struct{ name, src, want string }{
		{"unknown key", rule + "        sauce: response.body\n", `t.yaml:7: unknown key "sauce" in state.snapshot (it has source and redact)`},
		{"bad source", rule + "        source: response.bdy\n", `t.yaml:7: event a.b: state.snapshot: unknown source "response.bdy"`},
		{"bad redact", rule + "        redact: [a., b]\n", `t.yaml:7: event a.b: state.snapshot.redact: entry "a.": empty component`},
		{"none", rule + "        source: none\n        redact: [a]\n", `t.yaml:8: event a.b: state.snapshot.redact: snapshot none stores nothing to redact`},
		{"redact map", rule + "        redact: {a: b}\n", `t.yaml:7: state.snapshot.redact must be a value or a list of values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := loadErr(tt.src); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// prefetch's long form: select picks the resource out of an API's envelope
// before it becomes previous, so previous has the shape the snapshots of
// response.body.data have.
func TestPrefetchSelect(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.status_changed
    match: {method: PATCH, path: "/items/orders/{id}"}
    state:
      key: "order:{path.id}"
      snapshot: response.body.data
      prefetch: {request: "GET /items/orders/{path.id}", select: data}
    when: previous.status != response.body.data.status
    data: {old: previous.status, new: response.body.data.status}
  - name: order.updated
    match: {method: PUT, path: "/items/orders/{id}"}
    state: {key: "order:{path.id}", prefetch: "GET /items/orders/{path.id}"}
`)
	tests := []struct {
		method, answer, want string
		ok                   bool
	}{
		{"PATCH", `{"data":{"id":1,"status":"new"}}`, `{"id":1,"status":"new"}`, true},
		{"PATCH", `{"data":null}`, `null`, true},
		{"PATCH", `{"errors":[{"message":"forbidden"}]}`, ``, false},
		{"PUT", `{"data":{"id":1}}`, `{"data":{"id":1}}`, true}, // the short form keeps it all
	}
	for _, tt := range tests {
		c := set.Candidates(tt.method, "/items/orders/1")[0]
		if method, path, ok, err := c.Prefetch(&Input{Method: tt.method, Path: "/items/orders/1"}); err != nil || !ok || method != "GET" || path != "/items/orders/1" {
			t.Fatalf("%s: Prefetch = %s %s %v %v", tt.method, method, path, ok, err)
		}
		got, ok := c.SelectPrefetched([]byte(tt.answer))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("%s %s: SelectPrefetched = %s, %v; want %s, %v", tt.method, tt.answer, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPrefetchLongFormErrors(t *testing.T) {
	rule := "events:\n  - name: a.b\n    match: {path: \"/o/{id}\"}\n    state:\n      key: \"o:{path.id}\"\n      prefetch:\n"
	tests := []struct{ name, src, want string }{
		{"unknown key", rule + "        pick: data\n", `t.yaml:7: unknown key "pick" in state.prefetch (it has request and select)`},
		{"no request", rule + "        select: data\n", `t.yaml:7: state.prefetch: the long form needs request`},
		{"bad request", rule + "        request: POST /o/{path.id}\n        select: data\n", `t.yaml:7: event a.b: state.prefetch: only GET fetches state`},
		{"select a list", rule + "        request: GET /o/{path.id}\n        select: [data]\n", `t.yaml:8: state.prefetch.select must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := loadErr(tt.src); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
	// JSON configs compile the same StateSpec: select without a request.
	_, err := Compile([]Spec{{Name: "a.b", Match: MatchSpec{Path: "/o/{id}"}, State: &StateSpec{Key: "o:{path.id}", PrefetchSelect: "data"}}})
	if err == nil || !strings.Contains(err.Error(), "state.prefetch: select needs a request") {
		t.Errorf("select alone: %v", err)
	}
}

// A prefetched previous leaves out what the rule's snapshots leave out, so
// that a redacted field reads as null in previous wherever it came from.
func TestPrefetchRedacted(t *testing.T) {
	set := mustSet(t, `events:
  - name: customer.updated
    match: {method: PUT, path: "/items/customers/{id}"}
    state:
      key: "customer:{path.id}"
      snapshot: {source: response.body.data, redact: [ssn]}
      prefetch: {request: "GET /items/customers/{path.id}", select: data}
    data: {before: previous}
    redact: [password]
  - name: customer.renamed
    match: {method: PATCH, path: "/items/customers/{id}"}
    state: {key: "customer:{path.id}", prefetch: "GET /items/customers/{path.id}"}
    when: previous.name != response.body.name
    data: {id: path.id}
`)
	tests := []struct{ method, answer, want string }{
		{"PUT", `{"data":{"id":1,"name":"Ann","ssn":"123","password":"x"}}`, `{"id":1,"name":"Ann"}`},
		{"PATCH", `{"id":1,"name":"Ann"}`, `{"id":1,"name":"Ann"}`}, // nothing to redact
	}
	for _, tt := range tests {
		c := set.Candidates(tt.method, "/items/customers/1")[0]
		got, ok := c.SelectPrefetched([]byte(tt.answer))
		if !ok || string(got) != tt.want {
			t.Errorf("%s: SelectPrefetched = %s, %v; want %s", tt.method, got, ok, tt.want)
		}
	}
}
