package dryrun

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// compile compiles a rule file's text, named rules.yaml.
func compile(t *testing.T, yaml string) *rules.Set {
	t.Helper()
	specs, err := rules.Parse("rules.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// ex is an exchange with JSON bodies ("" for none).
func ex(method, target, body string, status int, respBody string) Exchange {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	x := Exchange{Method: method, URL: u, Header: http.Header{}, Status: status, RespHeader: http.Header{}}
	if body != "" {
		x.Body = []byte(body)
		x.Header.Set("Content-Type", "application/json")
	}
	if respBody != "" {
		x.RespBody = []byte(respBody)
	}
	return x
}

// replayAll numbers the exchanges from 0 and replays them.
func replayAll(set *rules.Set, xs ...Exchange) Result {
	for i := range xs {
		xs[i].Index = i
	}
	return Replay(set, xs, Options{})
}

// eventLines gives each event as "index name data".
func eventLines(res Result) []string {
	var out []string
	for _, e := range res.Events {
		out = append(out, strconv.Itoa(e.Index)+" "+e.Event+" "+string(e.Data))
	}
	return out
}

func ruleSummary(t *testing.T, res Result, name string) RuleSummary {
	t.Helper()
	for _, r := range res.Summary.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q in the summary", name)
	return RuleSummary{}
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const orderRules = `
events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    state: { key: "order:{response.body.id}" }
    data: { id: response.body.id }
  - name: order.status_changed
    match: { method: PUT, path: "/api/orders/{id}/status", status: 200 }
    state: { key: "order:{path.id}", prefetch: "GET /api/orders/{path.id}" }
    when: previous.status != response.body.status
    data: { id: path.id, old: previous.status, new: response.body.status }
  - name: order.shipped
    match: { method: PUT, path: "/api/orders/{id}/status", status: 200 }
    state: { key: "order:{path.id}" }
    when: response.body.status == "shipped" && previous.status != "shipped"
    data: { id: path.id, old: previous.status }
  - match: { method: GET, path: "/api/orders/{id}" }
    state: { key: "order:{path.id}" }
`

func TestReplayState(t *testing.T) {
	set := compile(t, orderRules)
	res := replayAll(set,
		ex("POST", "/api/orders", `{}`, 201, `{"id":"1","status":"pending"}`),
		ex("PUT", "/api/orders/1/status", `{"status":"paid"}`, 200, `{"id":"1","status":"paid"}`),
		ex("PUT", "/api/orders/1/status", `{"status":"paid"}`, 200, `{"id":"1","status":"paid"}`), // no change
		ex("PUT", "/api/orders/1/status", `{"status":"lost"}`, 400, `{"error":"bad status"}`),     // failed: no state change
		// Both rules see the state from before the exchange (paid), not
		// what the first one remembers.
		ex("PUT", "/api/orders/1/status", `{"status":"shipped"}`, 200, `{"id":"1","status":"shipped"}`),
	)
	wantLines(t, eventLines(res),
		`0 order.created {"id":"1"}`,
		`1 order.status_changed {"id":"1","old":"pending","new":"paid"}`,
		`4 order.status_changed {"id":"1","old":"paid","new":"shipped"}`,
		`4 order.shipped {"id":"1","old":"paid"}`,
	)
	sc := ruleSummary(t, res, "order.status_changed")
	if sc.Matched != 3 || sc.Fired != 2 || sc.WhenFalse != 1 || sc.Remembered != 3 || len(sc.Skipped) != 0 || len(sc.Notes) != 0 {
		t.Errorf("order.status_changed: %+v", sc)
	}
	if e := res.Events[0]; e.Request != "POST /api/orders" || e.Status != 201 {
		t.Errorf("event 0: %+v", e)
	}
	for _, e := range res.Events {
		if e.OrderKey != "order:1" {
			t.Errorf("%s's order key %q, want its state key order:1", e.Event, e.OrderKey)
		}
	}
}

// TestReplayOrderKey: a rule's order_key is its events' order key; one
// with a missing part leaves the event unordered, noted in the summary.
func TestReplayOrderKey(t *testing.T) {
	set := compile(t, `
events:
  - name: order.note_added
    match: { method: POST, path: "/api/notes", status: 201 }
    order_key: "order:{response.body.order}"
    data: { id: response.body.id }
`)
	res := replayAll(set,
		ex("POST", "/api/notes", `{}`, 201, `{"id":"n1","order":"7"}`),
		ex("POST", "/api/notes", `{}`, 201, `{"id":"n2"}`),
	)
	if len(res.Events) != 2 || res.Events[0].OrderKey != "order:7" || res.Events[1].OrderKey != "" {
		t.Fatalf("events %+v, want order keys order:7 and none", res.Events)
	}
	if s := ruleSummary(t, res, "order.note_added"); len(s.Notes) != 1 {
		t.Errorf("notes %v, want the unordered event noted", s.Notes)
	}
}

func TestReplayPrefetch(t *testing.T) {
	set := compile(t, `
events:
  - name: order.status_changed
    match: { method: PUT, path: "/api/orders/{id}/status", status: 200 }
    state:
      key: "order:{path.id}"
      prefetch: { request: "GET /api/orders/{path.id}?full=1", select: data }
    when: previous.status != response.body.status
    data: { id: path.id, old: previous.status, new: response.body.status }
`)
	res := replayAll(set,
		ex("GET", "/api/orders/1?full=1", "", 200, `{"data":{"id":"1","status":"old"}}`),
		ex("GET", "/api/orders/1?full=1", "", 200, `{"data":{"id":"1","status":"pending"}}`), // the latest
		ex("GET", "/api/orders/1", "", 200, `{"data":{"id":"1","status":"wrong query"}}`),
		ex("GET", "/api/orders/2?full=1", "", 404, `{"error":"not found"}`),
		ex("PUT", "/api/orders/1/status", `{}`, 200, `{"id":"1","status":"paid"}`), // prefetched from 1
		ex("PUT", "/api/orders/2/status", `{}`, 200, `{"id":"2","status":"paid"}`), // no 2xx GET of it
		ex("GET", "/api/orders/3?full=1", "", 200, `{"errors":["no"]}`),
		ex("PUT", "/api/orders/3/status", `{}`, 200, `{"id":"3","status":"paid"}`), // select finds nothing
		ex("PUT", "/api/orders/4/status", `{}`, 200, `{"id":"4","status":"paid"}`),
		ex("GET", "/api/orders/4?full=1", "", 200, `{"data":{"id":"4","status":"paid"}}`), // later: not used
	)
	wantLines(t, eventLines(res),
		`4 order.status_changed {"id":"1","old":"pending","new":"paid"}`,
		`5 order.status_changed {"id":"2","old":null,"new":"paid"}`,
		`7 order.status_changed {"id":"3","old":null,"new":"paid"}`,
		`8 order.status_changed {"id":"4","old":null,"new":"paid"}`,
	)
	notes := ruleSummary(t, res, "order.status_changed").Notes
	want := map[string]int{notePrefetchRecorded: 1, notePrefetchNotRecorded: 2, "prefetch: prefetch_select_missing": 1}
	if len(notes) != len(want) {
		t.Errorf("notes %v, want %v", notes, want)
	}
	for k, n := range want {
		if notes[k] != n {
			t.Errorf("notes %v, want %v", notes, want)
		}
	}
}

func TestReplayForgetAndStateOnly(t *testing.T) {
	set := compile(t, orderRules+`
  - name: order.paid
    match: { method: POST, path: /api/pay, status: 200 }
    state: { key: "order:{request.body.order}", snapshot: none, prefetch: "GET /api/orders/{request.body.order}" }
    when: previous.status != "paid"
    data: { id: request.body.order, before: previous.status }
`)
	res := replayAll(set,
		ex("GET", "/api/orders/1", "", 200, `{"id":"1","status":"pending"}`),       // remembered by the rule with no name
		ex("POST", "/api/pay", `{"order":"1"}`, 200, `{"received":true}`),          // from the state; forgets it
		ex("GET", "/api/orders/1", "", 200, `{"id":"1","status":"paid"}`),          // remembered again
		ex("POST", "/api/pay", `{"order":"1"}`, 200, `{"received":true}`),          // paid: nothing
		ex("PUT", "/api/orders/1/status", `{}`, 200, `{"id":"1","status":"paid"}`), // forgotten: prefetched from 2
	)
	wantLines(t, eventLines(res), `1 order.paid {"id":"1","before":"pending"}`)
	if s := ruleSummary(t, res, "order.paid"); s.Forgotten != 2 || s.WhenFalse != 1 || s.Notes != nil {
		t.Errorf("order.paid: %+v", s)
	}
	if s := ruleSummary(t, res, "order.status_changed"); s.WhenFalse != 1 || s.Notes[notePrefetchRecorded] != 1 {
		t.Errorf("order.status_changed: %+v", s)
	}
	if s := ruleSummary(t, res, ""); s.Matched != 2 || s.Remembered != 2 || s.Rule != "rules.yaml:17 (state only)" {
		t.Errorf("state-only rule: %+v", s)
	}
}

func TestReplayEach(t *testing.T) {
	set := compile(t, `
events:
  - name: order.created
    match: { method: POST, path: /items/orders, status: 200 }
    each: response.body.data
    state: { key: "order:{item.id}" }
    data: { id: item.id }
  - name: order.status_changed
    match: { method: PATCH, path: /items/orders, status: 200 }
    each: { source: request.body.keys, response: response.body.data, by: id }
    state: { key: "order:{item}", prefetch: { request: "GET /items/orders/{item}", select: data } }
    when: previous.status != response.item.status
    data: { id: item, old: previous.status, new: response.item.status }
`)
	res := replayAll(set,
		ex("POST", "/items/orders", `[{},{}]`, 200, `{"data":[{"id":1,"status":"new"},{"id":2,"status":"new"}]}`),
		ex("GET", "/items/orders/3", "", 200, `{"data":{"id":3,"status":"old"}}`),
		ex("PATCH", "/items/orders", `{"keys":[2,1,3],"data":{"status":"paid"}}`, 200,
			`{"data":[{"id":1,"status":"paid"},{"id":2,"status":"paid"},{"id":3,"status":"paid"}]}`),
		ex("PATCH", "/items/orders", `{"keys":[],"data":{}}`, 200, `{"data":[]}`),
	)
	wantLines(t, eventLines(res),
		`0 order.created {"id":1}`,
		`0 order.created {"id":2}`,
		`2 order.status_changed {"id":2,"old":"new","new":"paid"}`,
		`2 order.status_changed {"id":1,"old":"new","new":"paid"}`,
		`2 order.status_changed {"id":3,"old":"old","new":"paid"}`,
	)
	if s := ruleSummary(t, res, "order.status_changed"); s.Matched != 2 || s.Fired != 3 || s.Notes[noteNoItems] != 1 || s.Notes[notePrefetchRecorded] != 1 {
		t.Errorf("order.status_changed: %+v", s)
	}
}

func TestReplaySkips(t *testing.T) {
	set := compile(t, `
events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    when: response.body.total > 10
    data: { id: response.body.id }
  - name: order.noted
    match: { method: POST, path: /api/orders, status: 201 }
    when: 1 / int(response.body.total) > 0
    data: { id: response.body.id }
  - name: order.tagged
    match: { method: POST, path: /api/orders, status: 201 }
    data: { tag: request.headers.X-Tag, path: request.path }
`)
	missing := ex("POST", "/api/orders", "", 201, "")
	missing.BodyMissing, missing.RespBodyMissing = true, true
	stream := ex("POST", "/api/orders", "", 201, `{"id":"s","total":20}`)
	stream.RespHeader.Set("Content-Type", "text/event-stream")
	huge := ex("POST", "/api/orders", "", 201, `{"id":"h","total":20,"pad":"`+strings.Repeat("x", DefaultMaxBody)+`"}`)
	res := replayAll(set,
		ex("POST", "/api/orders", `{}`, 201, `{"id":"1","total":20}`),
		ex("POST", "/api/orders", `{}`, 201, `{"id":"2","total":0}`), // 1/0: when_error; total > 10 false
		ex("POST", "/api/orders", `{}`, 201, `not json`),             // response_body_not_json
		missing, // the same, its body not recorded
		stream,  // response_is_stream
		huge,    // response_body_too_large
		ex("POST", "/api/orders", `{}`, 500, `{"id":"3","total":20}`), // no rule matches the status
	)
	s := ruleSummary(t, res, "order.created")
	want := map[string]int{"response_body_not_json": 2, "response_is_stream": 1, "response_body_too_large": 1}
	if s.Matched != 6 || s.Fired != 1 || s.WhenFalse != 1 || len(s.Skipped) != len(want) || s.BodyNotRecorded["response_body_not_json"] != 1 {
		t.Errorf("order.created: %+v", s)
	}
	for k, n := range want {
		if s.Skipped[k] != n {
			t.Errorf("order.created skipped %v, want %v", s.Skipped, want)
		}
	}
	if s := ruleSummary(t, res, "order.noted"); s.Skipped["when_error"] != 1 {
		t.Errorf("order.noted: %+v", s)
	}
	if s := ruleSummary(t, res, "order.tagged"); s.Fired != 6 {
		t.Errorf("order.tagged, which reads no body, fired %d times, want 6", s.Fired)
	}
	if res.Summary.Exchanges != 7 || res.Summary.RequestBodiesNotRecorded != 1 || res.Summary.ResponseBodiesNotRecorded != 1 {
		t.Errorf("summary: %+v", res.Summary)
	}
}

func TestReplayStateKeyMissing(t *testing.T) {
	set := compile(t, `
events:
  - name: payment.received
    match: { method: POST, path: /hook, status: 200 }
    state: { key: 'order:{request.body.order}', snapshot: none }
    data: { order: request.body.order, before: previous }
  - name: order.seen
    match: { method: POST, path: /hook, status: 200 }
    state: { key: 'seen:{response.body.order}' }
    data: { order: response.body.order, before: previous }
`)
	res := replayAll(set, ex("POST", "/hook", `{"type":"other"}`, 200, `{"ok":true}`))
	wantLines(t, eventLines(res),
		`0 payment.received {"order":null,"before":null}`,
		`0 order.seen {"order":null,"before":null}`,
	)
	for _, name := range []string{"payment.received", "order.seen"} {
		if s := ruleSummary(t, res, name); s.Notes[noteNoState+"state_key_missing"] != 1 || s.Remembered+s.Forgotten != 0 {
			t.Errorf("%s: %+v", name, s)
		}
	}
}

// TestReplayEnvelope checks the fields an event takes from its rule.
func TestReplayEnvelope(t *testing.T) {
	set := compile(t, `
events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    data: { id: response.body.id }
    user_id: request.headers.X-User-Id
    site: response.body.site
    shadow: true
  - name: order.noted
    match: { method: POST, path: /api/orders, status: 201 }
`)
	x := ex("POST", "/api/orders?src=web", `{}`, 201, `{"id":"1","site":7}`)
	x.Header.Set("X-User-Id", "u1")
	res := replayAll(set, x)
	if len(res.Events) != 2 {
		t.Fatalf("events: %+v", res.Events)
	}
	e := res.Events[0]
	if e.Event != "order.created" || string(e.Data) != `{"id":"1"}` || string(e.UserID) != `"u1"` || e.Site != "7" || !e.Shadow ||
		e.Request != "POST /api/orders?src=web" || e.Status != 201 || e.Index != 0 {
		t.Errorf("event: %+v", e)
	}
	if e := res.Events[1]; string(e.Data) != "null" || e.UserID != nil || e.Site != "" || e.Shadow {
		t.Errorf("event with no data, user_id nor site: %+v", e)
	}
}
