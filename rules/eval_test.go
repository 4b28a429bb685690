package rules

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestEval(t *testing.T) {
	set := mustSet(t, shopYAML+`
  - name: form.posted
    match: {method: POST, path: /form}
    data: request.body
  - name: misc.sources
    match: {method: GET, path: "/misc/{id}"}
    data:
      method: request.method
      path: request.path
      id: path.id
      trace: request.headers.x-trace
      missingHeader: request.headers.X-Nope
      q: request.query.q
      status: response.status
      ctype: response.headers.Content-Type
      prev: previous
      prevName: previous.name
      skus: response.body.items.#.sku
      firstSku: response.body.items.0.sku
      count: response.body.items.#
      nothing: response.body.nope
      empty: {}
    site: response.body.site
    user_id: response.body.user
    state: {key: "misc:{path.id}"}
  - name: site.number
    match: {method: GET, path: /num}
    site: response.body.site
    user_id: response.body.nope
  - name: no.data
    match: {method: GET, path: /nodata}
  - name: gated.event
    match: {method: POST, path: /gated}
    when: request.method == "POST" && response.status == 202
    data: response.body
`)
	type want struct {
		name   string
		data   string
		userID string // "" = nil
		site   string
		skip   SkipReason // skip reason
		none   bool       // when was false
	}
	resp := `{"_id":"o1","orderNumber":"N-1","total":12.5,"site":"shop-a","status":"paid"}`
	tests := []struct {
		name string
		in   Input
		want []want
	}{
		{
			name: "order created",
			in:   Input{Method: "POST", Path: "/api/orders", Status: 201, RespBody: []byte(resp)},
			want: []want{{name: "order.created", data: `{"orderId":"o1","orderNumber":"N-1","total":12.5,"siteId":"shop-a"}`, site: "shop-a"}},
		},
		{
			name: "status changed, no previous",
			in:   Input{Method: "PATCH", Path: "/api/orders/o1/status", Status: 200, RespBody: []byte(resp)},
			want: []want{{name: "order.status_changed", data: `{"orderId":"o1","oldStatus":null,"newStatus":"paid"}`}},
		},
		{
			name: "status changed",
			in:   Input{Method: "PUT", Path: "/api/orders/o1/status", Status: 200, RespBody: []byte(resp), Previous: []byte(`{"status":"open"}`)},
			want: []want{{name: "order.status_changed", data: `{"orderId":"o1","oldStatus":"open","newStatus":"paid"}`}},
		},
		{
			name: "status unchanged",
			in:   Input{Method: "PUT", Path: "/api/orders/o1/status", Status: 200, RespBody: []byte(resp), Previous: []byte(`{"status":"paid"}`)},
			want: []want{{none: true}},
		},
		{
			name: "customer created, redacted",
			in: Input{Method: "POST", Path: "/api/customers", Status: 201, Header: http.Header{"X-User-Id": {"admin-7"}},
				RespBody: []byte("{\n  \"id\": \"c1\",\n  \"password\": \"x\",\n  \"profile\": {\"token\": \"t\", \"name\": \"Ann\"},\n  \"passwordHash\": \"h\",\n  \"keys\": [{\"token\": 1, \"k\": 2}],\n  \"token\": \"top\"\n}")},
			want: []want{{name: "customer.created", data: `{"id":"c1","profile":{"name":"Ann"},"keys":[{"k":2}]}`, userID: `"admin-7"`}},
		},
		{
			name: "customer created, no user header",
			in:   Input{Method: "POST", Path: "/api/customers", Status: 201, RespBody: []byte(`{"id":"c1"}`)},
			want: []want{{name: "customer.created", data: `{"id":"c1"}`, userID: `null`}},
		},
		{
			name: "customer updated",
			in:   Input{Method: "PUT", Path: "/api/customers/c9", Status: 200, Body: []byte(`{"email":"a@b","name":"A","a":[1, 2]}`)},
			want: []want{{name: "customer.updated", data: `{"customerId":"c9","changedFields":["email","name","a"],"nested":{"deep":[1,2]}}`}},
		},
		{
			name: "request body too large",
			in:   Input{Method: "PUT", Path: "/api/customers/c9", Status: 200, BodyErr: "request_body_too_large"},
			want: []want{{skip: "request_body_too_large"}},
		},
		{
			name: "request body not json",
			in:   Input{Method: "PUT", Path: "/api/customers/c9", Status: 200, Body: []byte(`<xml/>`)},
			want: []want{{skip: "request_body_not_json"}},
		},
		{
			name: "request body empty",
			in:   Input{Method: "PUT", Path: "/api/customers/c9", Status: 200},
			want: []want{{skip: "request_body_not_json"}},
		},
		{
			name: "response body too large",
			in:   Input{Method: "POST", Path: "/api/orders", Status: 201, RespBodyErr: "response_body_too_large"},
			want: []want{{skip: "response_body_too_large"}},
		},
		{
			name: "response body not json",
			in:   Input{Method: "POST", Path: "/api/orders", Status: 201, RespBody: []byte(`oops`)},
			want: []want{{skip: "response_body_not_json"}},
		},
		{
			name: "when needs response body",
			in:   Input{Method: "PUT", Path: "/api/orders/o1/status", Status: 200, RespBody: []byte(`nope`)},
			want: []want{{skip: "response_body_not_json"}},
		},
		{
			name: "form body",
			in: Input{Method: "POST", Path: "/form", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
				Body: []byte("b=2&a=1&b=3&c=%3Cx%3E"), Status: 200, RespBody: []byte(`not json but unused`)},
			want: []want{{name: "form.posted", data: `{"a":"1","b":["2","3"],"c":"\u003cx\u003e"}`}},
		},
		{
			name: "bad form body",
			in: Input{Method: "POST", Path: "/form", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
				Body: []byte("a=%zz"), Status: 200},
			want: []want{{skip: "request_body_not_json"}},
		},
		{
			name: "misc sources",
			in: Input{Method: "GET", Path: "/misc/7", Header: http.Header{"X-Trace": {"t1", "t2"}}, Query: url.Values{"q": {"x y"}},
				Status: 200, RespHeader: http.Header{"Content-Type": {"application/json"}},
				RespBody: []byte(`{"items":[{"sku":"a"},{"sku":"b"}],"site":"s1","user":{"id":5}}`), Previous: []byte(`{"name":"old"}`)},
			want: []want{{name: "misc.sources", site: "s1", userID: `{"id":5}`,
				data: `{"method":"GET","path":"/misc/7","id":"7","trace":"t1","missingHeader":null,"q":"x y","status":200,"ctype":"application/json",` +
					`"prev":{"name":"old"},"prevName":"old","skus":["a","b"],"firstSku":"a","count":2,"nothing":null,"empty":{}}`}},
		},
		{
			name: "numeric site, missing user",
			in:   Input{Method: "GET", Path: "/num", Status: 200, RespBody: []byte(`{"site": 12}`)},
			want: []want{{name: "site.number", data: "null", site: "12", userID: "null"}},
		},
		{
			name: "no data",
			in:   Input{Method: "GET", Path: "/nodata", Status: 200, RespBody: []byte(`garbage`), BodyErr: "whatever"},
			want: []want{{name: "no.data", data: "null"}},
		},
		{
			name: "when false never reads the body",
			in:   Input{Method: "POST", Path: "/gated", Status: 200, RespBodyErr: "response_body_too_large"},
			want: []want{{none: true}},
		},
		{
			name: "when true then the body",
			in:   Input{Method: "POST", Path: "/gated", Status: 202, RespBodyErr: "response_body_too_large"},
			want: []want{{skip: "response_body_too_large"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			cands := set.Candidates(in.Method, in.Path)
			if len(cands) != len(tt.want) {
				t.Fatalf("%d candidates, want %d", len(cands), len(tt.want))
			}
			for i, c := range cands {
				w := tt.want[i]
				ev, err := c.Eval(&in)
				if w.skip != "" {
					var se *SkipError
					if !errors.As(err, &se) || se.Reason != w.skip {
						t.Fatalf("got %v, %v; want skip %q", ev, err, w.skip)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if w.none {
					if ev != nil {
						t.Fatalf("got %+v, want no event", ev)
					}
					continue
				}
				if ev == nil {
					t.Fatal("no event")
				}
				if ev.Name != w.name || string(ev.Data) != w.data || string(ev.UserID) != w.userID || ev.Site != w.site {
					t.Fatalf("got %s %s user=%s site=%q\nwant %s %s user=%s site=%q", ev.Name, ev.Data, ev.UserID, ev.Site, w.name, w.data, w.userID, w.site)
				}
				if w.userID == "" && ev.UserID != nil {
					t.Fatalf("UserID = %s, want nil", ev.UserID)
				}
				if !json.Valid(ev.Data) {
					t.Fatalf("invalid data %s", ev.Data)
				}
			}
		})
	}
}

func TestEvalWhenError(t *testing.T) {
	set := mustSet(t, `events:
  - name: a.b
    match: {path: /x}
    when: response.body.total > 5
`)
	in := &Input{Method: "GET", Path: "/x", Status: 200, RespBody: []byte(`{"total":"many"}`)}
	_, err := set.Candidates("GET", "/x")[0].Eval(in)
	var se *SkipError
	if !errors.As(err, &se) || se.Reason != "when_error" || se.Err == nil {
		t.Fatalf("got %v", err)
	}
	in = &Input{Method: "GET", Path: "/x", Status: 200, RespBody: []byte(`{"total":6}`)}
	if ev, err := set.Candidates("GET", "/x")[0].Eval(in); err != nil || ev == nil {
		t.Fatalf("got %v, %v", ev, err)
	}
	if s := (&SkipError{Reason: "r", Err: errors.New("e")}).Error(); s != "event skipped: r: e" {
		t.Errorf("Error() = %q", s)
	}
}

// One Input serves every candidate: bodies are parsed once.
func TestInputShared(t *testing.T) {
	set := mustSet(t, `events:
  - name: a.one
    match: {path: /x}
    data: response.body.a
  - name: a.two
    match: {path: /x}
    when: response.body.a == 1
    data: response.body
`)
	in := &Input{Method: "GET", Path: "/x", Status: 200, RespBody: []byte(`{"a":1}`)}
	var got []string
	for _, c := range set.Candidates("GET", "/x") {
		ev, err := c.Eval(in)
		if err != nil || ev == nil {
			t.Fatalf("%v %v", ev, err)
		}
		got = append(got, string(ev.Data))
	}
	if len(got) != 2 || got[0] != "1" || got[1] != `{"a":1}` {
		t.Fatalf("got %v", got)
	}
}

// Invalid UTF-8 in a body's strings becomes U+FFFD, one per bad byte as
// encoding/json decodes it, in a field copied with a gjson path, in a
// whole body, in user_id and in site: event data is signed and sent as
// JSON, which must be UTF-8.
func TestEvalInvalidUTF8(t *testing.T) {
	set := mustSet(t, `events:
  - name: a.field
    match: {method: POST, path: /x}
    data: {name: request.body.name, deep: response.body.list.#.k}
    user_id: request.body.name
    site: response.body.site
  - name: a.whole
    match: {method: POST, path: /x}
    data: request.body
`)
	in := &Input{Method: "POST", Path: "/x", Status: 200,
		Body:     []byte("{\"name\":\"a\xff\xfeb\",\"n\":{\"k\":\"\xc3\"}}"),
		RespBody: []byte("{\"list\":[{\"k\":\"ok \xe2\x82\"}],\"site\":\"s\xff\"}")}
	want := map[string]struct{ data, user, site string }{
		"a.field": {"{\"name\":\"a\uFFFD\uFFFDb\",\"deep\":[\"ok \uFFFD\uFFFD\"]}", "\"a\uFFFD\uFFFDb\"", "s\uFFFD"},
		"a.whole": {"{\"name\":\"a\uFFFD\uFFFDb\",\"n\":{\"k\":\"\uFFFD\"}}", "", ""},
	}
	for _, c := range set.Candidates("POST", "/x") {
		ev, err := c.Eval(in)
		if err != nil || ev == nil {
			t.Fatalf("%s: %v, %v", c.Rule.Name(), ev, err)
		}
		w := want[ev.Name]
		if string(ev.Data) != w.data || string(ev.UserID) != w.user || ev.Site != w.site {
			t.Errorf("%s: got data %q user %q site %q\nwant data %q user %q site %q", ev.Name, ev.Data, ev.UserID, ev.Site, w.data, w.user, w.site)
		}
		// What encoding/json reads from the body is what the event says.
		var fromBody, fromEvent any
		if err := json.Unmarshal(in.Body, &fromBody); err != nil {
			t.Fatalf("body: %v", err)
		}
		if err := json.Unmarshal(ev.Data, &fromEvent); err != nil {
			t.Fatalf("%s: event data: %v", ev.Name, err)
		}
		if ev.Name == "a.whole" && !reflect.DeepEqual(fromBody, fromEvent) {
			t.Errorf("encoding/json reads %v from the body, %v from the event", fromBody, fromEvent)
		}
	}
}
