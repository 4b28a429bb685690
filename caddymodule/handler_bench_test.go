//go:build unix

package caddymodule

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The benchmarks of this file measure the handler's own cost per request,
// without a Caddy process: ServeHTTP with a fake upstream (next) that
// answers at once, and an app whose store is a real Badger in the temp
// dir with one subscription (so each event's fan-out writes a delivery).
// Run them with bench/gobench.sh; bench/README.md lists their figures.

// benchHandlerRules are bench/rules.yaml's rule, and a state-keeping rule
// with a CEL `when` on the order's status.
const benchHandlerRules = `events:
  - name: order.created
    match: {method: POST, path: /api/orders, status: 201}
    data:
      orderId: response.body._id
      total: response.body.total
      site: response.body.site
  - name: order.status_changed
    match: {method: PATCH, path: "/api/orders/{id}/status", status: 200}
    when: previous.status != response.body.status
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
    site: response.body.site
    state: {key: "order:{path.id}", snapshot: response.body}
`

// benchRequestBody is what bench/post.lua posts.
const benchRequestBody = `{"site":"site-1","currency":"CHF","customer":{"email":"jane.doe@example.com","name":"Jane Doe"},` +
	`"items":[{"sku":"SKU-001","quantity":2},{"sku":"SKU-002","quantity":1}]}`

// benchOrder is the benchmark upstream's ~330-byte order, with status.
func benchOrder(status string) []byte {
	return []byte(`{"_id":"6745a1b20000000000000001","orderNumber":"CMD-2026-000001",` +
		`"status":"` + status + `","total":42.5,"currency":"CHF","site":"site-1",` +
		`"customer":{"email":"jane.doe@example.com","name":"Jane Doe"},` +
		`"items":[{"sku":"SKU-001","quantity":2,"price":15},{"sku":"SKU-002","quantity":1,"price":12.5}],` +
		`"createdAt":"2026-11-23T10:00:00.000Z"}`)
}

// benchUpstream answers as bench/upstream does: 201 and the order to a
// POST, 200 and the order to a status change (its status alternating
// between two values, so that every change is one), 200 and a small
// document to the rest. It reads the request body first, as a proxy does,
// and allocates nothing, so that what a benchmark counts is the handler's.
func benchUpstream() caddyhttp.Handler {
	type answer struct {
		body   []byte
		length []string
	}
	answerOf := func(body []byte) answer { return answer{body, []string{strconv.Itoa(len(body))}} }
	orders := []answer{answerOf(benchOrder("pending")), answerOf(benchOrder("paid"))}
	other := answerOf([]byte(`{"_id":"123","sku":"SKU-123","name":"Widget","price":19.9}`))
	contentType := []string{"application/json"}
	n := 0
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Body != nil && r.Body != http.NoBody {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		status, a := http.StatusOK, other
		switch r.Method {
		case http.MethodPost:
			status, a = http.StatusCreated, orders[0]
		case http.MethodPatch:
			n++
			a = orders[n%2]
		}
		h := w.Header()
		h["Content-Type"] = contentType
		h["Content-Length"] = a.length
		w.WriteHeader(status)
		_, err := w.Write(a.body)
		return err
	})
}

// benchWriter is the client's side: it keeps the status and counts the
// bytes.
type benchWriter struct {
	header http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func (w *benchWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// benchHandler is a handler with the rules above and an app whose store
// is a Badger in the temp dir, with durability d and one subscription.
func benchHandler(b *testing.B, d webhook.Durability) (*Handler, *badgerstore.Store) {
	b.Helper()
	store, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	app := &App{logger: zap.NewNop(), durability: d, Retention: defaultRetention, store: store}
	store.Configure(app.storeSettings())
	sub := &webhook.Subscription{ID: "sub_bench", URL: "http://127.0.0.1:1/hook", Events: []string{"*"},
		IsActive: true, Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	if err := store.PutSubscription(context.Background(), sub); err != nil {
		b.Fatal(err)
	}
	return &Handler{set: compileTestRules(b, benchHandlerRules), MaxBody: defaultMaxBody, app: app, logger: zap.NewNop()}, store
}

// benchExchange is one request of a scenario, and the status the client
// must get.
type benchExchange struct {
	method, path, body string
	status             int
	events             bool // each request stores an event
}

var benchExchanges = map[string]benchExchange{
	"no-match": {http.MethodGet, "/api/products/123", "", http.StatusOK, false},
	"match":    {http.MethodPost, "/api/orders", benchRequestBody, http.StatusCreated, true},
	"state":    {http.MethodPatch, "/api/orders/6745a1b20000000000000001/status", `{"status":"paid"}`, http.StatusOK, true},
}

// serve runs one request of x through h, as Caddy would (straight to
// next when h is nil).
func (x benchExchange) serve(b *testing.B, h *Handler, next caddyhttp.Handler, w *benchWriter, r *http.Request, body *benchBody) {
	w.reset()
	if x.body != "" {
		body.Reset(x.body)
		r.Body, r.ContentLength = body, int64(len(x.body))
	}
	var err error
	if h == nil {
		err = next.ServeHTTP(w, r)
	} else {
		err = h.ServeHTTP(w, r, next)
	}
	if err != nil {
		b.Fatal(err)
	}
	if w.status != x.status || w.n == 0 {
		b.Fatalf("the client got %d and %d bytes, want %d and the body", w.status, w.n, x.status)
	}
}

// request makes x's request, and the body that serve resets for each
// request.
func (x benchExchange) request() (*http.Request, *benchBody) {
	r, _ := http.NewRequest(x.method, "http://localhost"+x.path, http.NoBody)
	r.Header.Set("Content-Type", "application/json")
	return r, &benchBody{strings.NewReader("")}
}

// benchBody is a request body that can be read again, once reset.
type benchBody struct{ *strings.Reader }

func (benchBody) Close() error { return nil }

// BenchmarkServeHTTP is the handler's cost per request, one at a time
// (with async, the timing ends once the events are written: settle):
// upstream-alone (the match's request to the fake upstream without the
// handler: what the other figures include that is not the handler's),
// no-match (streamed through untouched), a match (the response held,
// the event extracted and committed, with its delivery, before the
// response goes on) with each durability, and a state-keeping match (the
// resource's key held and its snapshot read before, the new one written
// with the event).
func BenchmarkServeHTTP(b *testing.B) {
	for _, bc := range []struct {
		name, exchange string
		d              webhook.Durability
	}{
		{"upstream-alone", "match", webhook.Sync},
		{"no-match", "no-match", webhook.Sync},
		{"match-async", "match", webhook.Async},
		{"match-sync", "match", webhook.Sync},
		{"state-async", "state", webhook.Async},
		{"state-sync", "state", webhook.Sync},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, store := benchHandler(b, bc.d)
			x := benchExchanges[bc.exchange]
			next := benchUpstream()
			if bc.name == "upstream-alone" {
				h, x.events = nil, false
			}
			w := &benchWriter{header: http.Header{}}
			r, body := x.request()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Now()
			for range b.N {
				x.serve(b, h, next, w, r, body)
			}
			extra := settle(b, h, store)
			b.StopTimer()
			benchcpu.Report(b, cpu)
			wantEvents(b, store, x, b.N+extra)
		})
	}
}

// BenchmarkServeHTTPParallel is BenchmarkServeHTTP's match from many
// requests at once (16 per GOMAXPROCS: 32 on 2 cores, wrk's connections
// in bench/run.sh): concurrent sync commits share fsyncs.
func BenchmarkServeHTTPParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    webhook.Durability
	}{{"match-async", webhook.Async}, {"match-sync", webhook.Sync}} {
		b.Run(bc.name, func(b *testing.B) {
			h, store := benchHandler(b, bc.d)
			x := benchExchanges["match"]
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Now()
			b.RunParallel(func(pb *testing.PB) {
				next := benchUpstream()
				w := &benchWriter{header: http.Header{}}
				r, body := x.request()
				for pb.Next() {
					x.serve(b, h, next, w, r, body)
				}
			})
			extra := settle(b, h, store)
			b.StopTimer()
			benchcpu.Report(b, cpu)
			wantEvents(b, store, x, b.N+extra)
		})
	}
}

// settle returns once the asynchronous commits of h's requests are
// written, so that their writing is timed too (the response went on
// before it): it commits one more event, synced, which is written after
// them, and returns how many events it committed. Its fsync is shared by
// all the ops: a few ns each at -benchtime 1s.
func settle(b *testing.B, h *Handler, store *badgerstore.Store) int {
	b.Helper()
	if h == nil || h.app.durability != webhook.Async {
		return 0
	}
	set := h.app.storeSettings()
	set.Durability = webhook.Sync
	store.Configure(set)
	defer store.Configure(h.app.storeSettings())
	now := time.Now()
	ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{}`)}
	if err := store.Commit(context.Background(), []webhook.Event{ev}, nil); err != nil {
		b.Fatal(err)
	}
	return 1
}

// wantEvents fails the benchmark unless the n requests of x stored an
// event and its delivery each (none for a no-match), once the writes of
// async commits are done.
func wantEvents(b *testing.B, store *badgerstore.Store, x benchExchange, n int) {
	b.Helper()
	want := int64(0)
	if x.events {
		want = int64(n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := store.Count(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if c.Events == want && c.Deliveries[webhook.Pending] == want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d events and %d pending deliveries stored after %d requests, want %d", c.Events, c.Deliveries[webhook.Pending], n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
