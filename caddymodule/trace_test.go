package caddymodule_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestTraceContext: a client request with a traceparent leads to
// deliveries whose traceparent continues its trace (same trace id, a new
// span id), with its tracestate; one without leads to deliveries without.
func TestTraceContext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []http.Header
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	a, base := startCreated(t)
	a.Create(map[string]any{"url": recv.URL, "events": []string{"order.created"}})

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest(http.MethodPost, base+"/items/orders", strings.NewReader(`{"status":"traced"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", parent)
	req.Header.Set("tracestate", "vendor=abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testbed.Eventually(t, 10*time.Second, "the traced delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	send(t, "POST", base+"/items/orders", `{"status":"untraced"}`, 200)
	testbed.Eventually(t, 10*time.Second, "the untraced delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})

	mu.Lock()
	defer mu.Unlock()
	tp := got[0].Get("Traceparent")
	if webhook.TraceID(tp) != "4bf92f3577b34da6a3ce929d0e0e4736" || tp == parent || webhook.TraceParent(tp) != tp || got[0].Get("Tracestate") != "vendor=abc" {
		t.Errorf("the traced delivery carries traceparent %q, tracestate %q", tp, got[0].Get("Tracestate"))
	}
	if tp := got[1].Get("Traceparent"); tp != "" {
		t.Errorf("the untraced delivery carries traceparent %q", tp)
	}
}
