package rules

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestWhen(t *testing.T) {
	pp, err := compilePath("/api/orders/{id}")
	if err != nil {
		t.Fatal(err)
	}
	base := func() *Input {
		return &Input{
			Method:     "PUT",
			Path:       "/api/orders/42",
			Header:     http.Header{"Content-Type": {"application/json"}, "X-User-Id": {"u1"}},
			Query:      map[string][]string{"dry": {"1"}},
			Body:       []byte(`{"total": 150, "items": [{"sku":"a"},{"sku":"b"}], "customer": null, "note": "hi"}`),
			Status:     200,
			RespHeader: http.Header{"Content-Type": {"application/json"}},
			RespBody:   []byte(`{"status":"paid","count":3,"flag":true}`),
		}
	}
	params := map[string]string{"id": "42"}
	tests := []struct {
		expr string
		prev string
		want bool
		err  bool
	}{
		{expr: `response.body.status == "paid"`, want: true},
		{expr: `response.body.status == "open"`, want: false},
		{expr: `request.body.total > 100`, want: true},
		{expr: `request.body.total > 100.5`, want: true},
		{expr: `request.body.total == 150`, want: true},
		{expr: `response.body.count == 3`, want: true},
		{expr: `response.body.count in [1, 2, 3]`, want: true},
		{expr: `response.body.flag`, want: true},
		{expr: `previous.status != response.body.status`, want: true},
		{expr: `previous == null`, want: true},
		{expr: `previous.status == null`, want: true},
		{expr: `previous.a.b.c == null`, want: true},
		{expr: `previous.status != response.body.status`, prev: `{"status":"paid"}`, want: false},
		{expr: `previous.status != response.body.status`, prev: `{"status":"open"}`, want: true},
		{expr: `previous != null`, prev: `{"status":"open"}`, want: true},
		{expr: `has(previous.status)`, want: false},
		{expr: `has(previous.status)`, prev: `{"status":"open"}`, want: true},
		{expr: `has(request.body.total)`, want: true},
		{expr: `has(request.body.missing)`, want: false},
		{expr: `has(request.body.missing.deeper)`, want: false},
		{expr: `request.body.missing == null`, want: true},
		{expr: `request.body.customer == null`, want: true},
		{expr: `request.body.customer.name == null`, want: true},
		{expr: `size(request.body.items) > 0`, want: true},
		{expr: `size(request.body.items) == 2`, want: true},
		{expr: `request.body.items[0].sku == "a"`, want: true},
		{expr: `request.body.items[5].sku == null`, want: true},
		{expr: `request.body.items.exists(i, i.sku == "b")`, want: true},
		{expr: `request.body.items.all(i, has(i.sku))`, want: true},
		{expr: `request.body.items.map(i, i.sku) == ["a", "b"]`, want: true},
		{expr: `request.body.note.startsWith("h")`, want: true},
		{expr: `request.body.note.upperAscii() == "HI"`, want: true},
		{expr: `"total" in request.body`, want: true},
		{expr: `request.method == "PUT" && request.path.startsWith("/api/")`, want: true},
		{expr: `request.headers["x-user-id"] == "u1"`, want: true},
		{expr: `request.headers["X-User-Id"] == "u1"`, want: true},
		{expr: `"x-user-id" in request.headers`, want: true},
		{expr: `request.headers["X-Missing"] == null`, want: true},
		{expr: `request.query.dry == "1"`, want: true},
		{expr: `request.query.nope == null`, want: true},
		{expr: `response.status == 200`, want: true},
		{expr: `response.status >= 200 && response.status < 300`, want: true},
		{expr: `response.headers["Content-Type"].contains("json")`, want: true},
		{expr: `path.id == "42"`, want: true},
		{expr: `int(path.id) == 42`, want: true},
		{expr: `{"a": 1}.a == 1`, want: true},
		// Run-time failures.
		{expr: `request.body.missing > 5`, err: true},
		{expr: `request.body.note > 5`, err: true},
		{expr: `request.body.note`, err: true},
		{expr: `request.body.total / 0.0 > 1.0 && 1 / 0 == 1`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			w, err := compileWhen(tt.expr, pp)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if w.strict {
				t.Fatal("the null-safe rewrite failed")
			}
			in := base()
			if tt.prev != "" {
				in.Previous = []byte(tt.prev)
			}
			if w.needsReq {
				if _, err := in.requestBody(); err != nil {
					t.Fatal(err)
				}
			}
			if w.needsResp {
				if _, err := in.responseBody(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := w.eval(context.Background(), in, params)
			if tt.err {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWhenCompileErrors(t *testing.T) {
	pp, _ := compilePath("/api/orders/{id}")
	tests := []struct{ expr, want string }{
		{`foo == 1`, "undeclared reference to 'foo'"},
		{`request.bdy.x == 1`, `request has no field "bdy"`},
		{`has(response.stat)`, `response has no field "stat"`},
		{`path.nope == "1"`, "path pattern has no {nope}"},
		{`1 + 1`, "must be a boolean expression, not int"},
		{`request.body.x ==`, "Syntax error"},
		{"request.body.x == 1 &&\n  foo", "line 2 column 3"},
	}
	for _, tt := range tests {
		_, err := compileWhen(tt.expr, pp)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error containing %q", tt.expr, err, tt.want)
		}
	}
}

func TestWhenNeeds(t *testing.T) {
	pp, _ := compilePath("/x/{id}")
	tests := []struct {
		expr            string
		req, resp, prev bool
	}{
		{`request.method == "POST"`, false, false, false},
		{`request.body.a == 1`, true, false, false},
		{`response.status == 201 && request.headers["X"] == "y"`, false, false, false},
		{`response.body.a == 1`, false, true, false},
		{`has(request.body)`, true, false, false},
		{`request["body"] != null`, true, false, false},
		{`previous.a == path.id`, false, false, true},
	}
	for _, tt := range tests {
		w, err := compileWhen(tt.expr, pp)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		if w.needsReq != tt.req || w.needsResp != tt.resp || w.needsPrev != tt.prev {
			t.Errorf("%q: needs req=%v resp=%v prev=%v, want %v %v %v", tt.expr, w.needsReq, w.needsResp, w.needsPrev, tt.req, tt.resp, tt.prev)
		}
	}
}

// bigBody is {"items":[0,...,n-1],"groups":[{"members":[0,...,n-1]}]}.
func bigBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString(`]`)
	list := b.String()
	return []byte(`{"items":` + list + `,"groups":[{"members":` + list + `}]}`)
}

// A `when` that would run for seconds on a large body stops at the cost
// limit and skips the event. Nested data hides its cost from the load-time
// estimate (one group holding every member), so the run-time limit is what
// stops it: 12,000 members compared with each other are 144 million steps.
func TestWhenCostLimit(t *testing.T) {
	set := mustSet(t, `events:
  - name: group.checked
    match: {method: POST, path: /groups}
    when: request.body.groups.exists(g, g.members.exists(m, g.members.exists(n, m == n && m < 0)))
`)
	in := &Input{Method: "POST", Path: "/groups", Status: 200, Body: bigBody(12000)}
	c := set.Candidates("POST", "/groups")[0]
	ev, err := c.Eval(in)
	var se *SkipError
	if !errors.As(err, &se) || se.Reason != ReasonWhenError || !errors.Is(err, errWhenCost) {
		t.Fatalf("got %+v, %v; want a when_error over the cost limit", ev, err)
	}
	// A small body is well within the limit.
	in = &Input{Method: "POST", Path: "/groups", Status: 200, Body: bigBody(100)}
	if ev, err := c.Eval(in); ev != nil || err != nil {
		t.Fatalf("small body: got %+v, %v; want no event and no error", ev, err)
	}
}

// A done context stops a long comprehension (the client left): the event
// is skipped with the context's error.
func TestWhenInterrupted(t *testing.T) {
	set := mustSet(t, `events:
  - name: item.found
    match: {method: POST, path: /items}
    when: request.body.items.exists(i, i < 0)
`)
	c := set.Candidates("POST", "/items")[0]
	in := &Input{Method: "POST", Path: "/items", Status: 200, Body: bigBody(12000)}
	if ev, err := c.Eval(in); ev != nil || err != nil {
		t.Fatalf("no context: got %+v, %v; want no event and no error", ev, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in = &Input{Method: "POST", Path: "/items", Status: 200, Body: bigBody(12000)}
	ev, err := c.EvalContext(ctx, in)
	var se *SkipError
	if !errors.As(err, &se) || se.Reason != ReasonWhenError || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %+v, %v; want a when_error caused by the cancellation", ev, err)
	}
}

// The load-time estimate lets a cost that grows with the body through and
// refuses one that grows with its square.
func TestWhenCostEstimate(t *testing.T) {
	pp, _ := compilePath("/x")
	tests := []struct {
		expr string
		ok   bool
	}{
		{`previous.status != response.body.status`, true},
		{`request.body.items.exists(i, i.qty > 10 && i.sku.startsWith("A") && has(i.tags))`, true},
		{`request.body.items.exists(i, i.tags.exists(t, t == "x"))`, true},
		{`request.body.items.map(i, i.sku).exists(s, s == "a")`, true},
		{`request.body.text.split(",").exists(p, p == "x")`, true},
		{`request.body.note.matches("^a.*b$")`, true},
		{`request.body.items.all(x, request.body.items.all(y, true))`, false},
		{`request.body.items.exists(i, i.tags.exists(t, response.body.tags.exists(u, u == t)))`, false},
		{`request.body.roles.exists(r, !(r in previous.roles))`, false},
	}
	for _, tt := range tests {
		_, err := compileWhen(tt.expr, pp)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.expr, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "too costly")) {
			t.Errorf("%s: got %v, want too costly", tt.expr, err)
		}
	}
}
