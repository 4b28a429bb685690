//go:build unix

package rules

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
)

// The benchmarks of this file measure what the handler asks of the rules
// per request: Matches for every request, then, for a match, Candidates,
// the state key and snapshot, and Eval of the event's data (gjson paths,
// CEL). Run them with bench/gobench.sh; bench/README.md lists their
// figures.

// benchOrderBody is the order the benchmark upstream (bench/upstream)
// answers POST /api/orders with: ~330 bytes.
const benchOrderBody = `{"_id":"6745a1b20000000000000001","orderNumber":"CMD-2026-000001",` +
	`"status":"pending","total":42.5,"currency":"CHF","site":"site-1",` +
	`"customer":{"email":"jane.doe@example.com","name":"Jane Doe"},` +
	`"items":[{"sku":"SKU-001","quantity":2,"price":15},{"sku":"SKU-002","quantity":1,"price":12.5}],` +
	`"createdAt":"2026-11-23T10:00:00.000Z"}`

// benchRules is a 20-rule set: created/updated/deleted rules of six
// resources, then bench/rules.yaml's order.created and a state-keeping
// order.status_changed with a CEL `when`. The order rules come last, so
// a match scans the other rules of its method first.
func benchRules(tb testing.TB) *Set {
	tb.Helper()
	var y strings.Builder
	y.WriteString("events:\n")
	for _, res := range []string{"products", "customers", "invoices", "shipments", "carts", "coupons"} {
		fmt.Fprintf(&y, `  - name: %[1]s.created
    match: {method: POST, path: /api/%[1]s, status: 201}
    data: {id: response.body._id, site: response.body.site}
  - name: %[1]s.updated
    match: {method: [PUT, PATCH], path: "/api/%[1]s/{id}", status: 2xx}
    data: {id: path.id, fields: request.body.@keys}
  - name: %[1]s.deleted
    match: {method: DELETE, path: "/api/%[1]s/{id}", status: [200, 204]}
    data: {id: path.id}
`, res)
	}
	y.WriteString(`  - name: order.created
    description: A new order was placed (benchmark)
    match:
      method: POST
      path: /api/orders
      status: 201
    data:
      orderId: response.body._id
      total: response.body.total
      site: response.body.site
  - name: order.status_changed
    match: {method: [PUT, PATCH], path: "/api/orders/{id}/status", status: 200}
    when: previous.status != response.body.status && response.body.total > 10
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
      skus: response.body.items.#.sku
    site: response.body.site
    state: {key: "order:{path.id}", snapshot: response.body}
`)
	set := mustSet(tb, y.String())
	if n := len(set.Rules()); n != 20 {
		tb.Fatalf("the benchmark rule set has %d rules, want 20", n)
	}
	return set
}

// BenchmarkMatches is the test every request goes through: does any rule
// match its method and path?
func BenchmarkMatches(b *testing.B) {
	set := benchRules(b)
	for _, bc := range []struct {
		name, method, path string
		want               bool
	}{
		{"match", http.MethodPost, "/api/orders", true},
		{"match-param", http.MethodPatch, "/api/orders/o-1/status", true},
		{"no-match-method", http.MethodGet, "/api/products/123", false},
		{"no-match-path", http.MethodPost, "/api/payments", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if got := set.Matches(bc.method, bc.path); got != bc.want {
				b.Fatalf("Matches(%s %s) = %v, want %v", bc.method, bc.path, got, bc.want)
			}
			b.ReportAllocs()
			cpu := benchcpu.Now()
			for b.Loop() {
				set.Matches(bc.method, bc.path)
			}
			benchcpu.Report(b, cpu)
		})
	}
}

// BenchmarkCandidates lists the matching rules of a request that matched,
// with their captured path parameters.
func BenchmarkCandidates(b *testing.B) {
	set := benchRules(b)
	for _, bc := range []struct{ name, method, path string }{
		{"plain", http.MethodPost, "/api/orders"},
		{"param", http.MethodPatch, "/api/orders/o-1/status"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if got := set.Candidates(bc.method, bc.path); len(got) != 1 {
				b.Fatalf("%d candidates, want 1", len(got))
			}
			b.ReportAllocs()
			cpu := benchcpu.Now()
			for b.Loop() {
				set.Candidates(bc.method, bc.path)
			}
			benchcpu.Report(b, cpu)
		})
	}
}

// BenchmarkEval extracts one event from a response, as the handler does
// once per matching request: a fresh Input each time (it caches the
// parsed bodies of one request).
func BenchmarkEval(b *testing.B) {
	set := benchRules(b)
	respHeader := http.Header{"Content-Type": {"application/json"}}
	b.Run("gjson", func(b *testing.B) {
		c := set.Candidates(http.MethodPost, "/api/orders")[0]
		in := func() *Input {
			return &Input{Method: http.MethodPost, Path: "/api/orders", Header: http.Header{},
				Status: http.StatusCreated, RespHeader: respHeader, RespBody: []byte(benchOrderBody)}
		}
		wantEvent(b, c, in(), `{"orderId":"6745a1b20000000000000001","total":42.5,"site":"site-1"}`)
		b.ReportAllocs()
		cpu := benchcpu.Now()
		for b.Loop() {
			if _, err := c.Eval(in()); err != nil {
				b.Fatal(err)
			}
		}
		benchcpu.Report(b, cpu)
	})
	// The state-keeping rule, as the handler runs it: the key, the
	// snapshot to store, then `when` (CEL over the previous snapshot and
	// the response) and the data.
	b.Run("cel-state", func(b *testing.B) {
		c := set.Candidates(http.MethodPatch, "/api/orders/o-1/status")[0]
		prev := []byte(strings.Replace(benchOrderBody, `"status":"pending"`, `"status":"paid"`, 1))
		in := func() *Input {
			in := &Input{Method: http.MethodPatch, Path: "/api/orders/o-1/status", Header: http.Header{},
				Body: []byte(`{"status":"pending"}`), Status: http.StatusOK, RespHeader: respHeader, RespBody: []byte(benchOrderBody)}
			in.SetPrevious(prev)
			return in
		}
		wantEvent(b, c, in(), `{"orderId":"o-1","oldStatus":"paid","newStatus":"pending","skus":["SKU-001","SKU-002"]}`)
		b.ReportAllocs()
		cpu := benchcpu.Now()
		for b.Loop() {
			in := in()
			if _, err := c.StateKey(in); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Snapshot(in); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Eval(in); err != nil {
				b.Fatal(err)
			}
		}
		benchcpu.Report(b, cpu)
	})
}

// wantEvent fails the benchmark unless c makes an event with data want of
// in: a benchmark of a skip or a false `when` would measure nothing.
func wantEvent(b *testing.B, c Candidate, in *Input, want string) {
	b.Helper()
	ev, err := c.Eval(in)
	if err != nil {
		b.Fatal(err)
	}
	if ev == nil {
		b.Fatalf("no event (when is false), want data %s", want)
	}
	if string(ev.Data) != want {
		b.Fatalf("event data %s, want %s", ev.Data, want)
	}
}
