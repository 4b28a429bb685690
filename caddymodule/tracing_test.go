package caddymodule_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// span is a span as the collector received it.
type span struct {
	trace, id, parent, name, service string
	kind                             tracepb.Span_SpanKind
	attrs                            map[string]string
	status                           *tracepb.Status
}

// collector is an OTLP/HTTP trace receiver: it keeps the spans posted to
// /v1/traces in protobuf, as OpenTelemetry's exporter sends them.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []span
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("collector: %s %s: not an OTLP trace export", r.Method, r.URL)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.add(&req)
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) add(req *coltrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, kv := range s.GetAttributes() {
					switch v := kv.GetValue().GetValue().(type) {
					case *commonpb.AnyValue_StringValue:
						attrs[kv.GetKey()] = v.StringValue
					case *commonpb.AnyValue_IntValue:
						attrs[kv.GetKey()] = fmt.Sprint(v.IntValue)
					}
				}
				c.spans = append(c.spans, span{
					trace: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()),
					parent: hex.EncodeToString(s.GetParentSpanId()), name: s.GetName(), service: service,
					kind: s.GetKind(), attrs: attrs, status: s.GetStatus(),
				})
			}
		}
	}
}

// named returns the spans named name.
func (c *collector) named(name string) []span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []span
	for _, s := range c.spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// tracedReceiver answers 500 to the first delivery and 200 to the
// others, keeping each one's traceparent and event id.
type tracedReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []struct{ traceparent, eventID string }
}

func newTracedReceiver(t *testing.T) *tracedReceiver {
	t.Helper()
	r := &tracedReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ ID string }
		_ = json.NewDecoder(req.Body).Decode(&body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, struct{ traceparent, eventID string }{req.Header.Get("Traceparent"), body.ID})
		if len(r.got) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *tracedReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *tracedReceiver) at(i int) (traceparent, eventID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i].traceparent, r.got[i].eventID
}

// tracedPost sends a create with the client's traceparent.
func tracedPost(t *testing.T, url, traceID, spanID string) {
	t.Helper()
	// Caddy itself may reset a connection made while a config reload
	// stops the old server (plain Caddy with a `respond` site: 4 of 3,000
	// fresh connections failed over 60 reloads), before any handler ran:
	// such a POST is made again. A kept-alive connection could be closed
	// by the reload too, so each has a connection of its own.
	var err error
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"status":"new"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Traceparent", "00-"+traceID+"-"+spanID+"-01")
		req.Close = true
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		t.Logf("POST %s: %v; again", url, err)
	}
	t.Fatal(err)
}

// TestAttemptSpans: with Caddy's `tracing` handler in the site, each
// delivery attempt is a client span exported where Caddy exports its own
// (the OTEL_* environment): in the client's trace, child of Caddy's span
// of the request, with the attempt's attributes and an error status when
// it failed; the traceparent the receiver gets names the attempt's span.
// Reloaded without `tracing`, attempts are no spans (the receiver still
// gets a traceparent in the trace); with it again, they are.
func TestAttemptSpans(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	recv := newTracedReceiver(t)
	_, up := newBatchApp(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulePath, createdRules)
	port := testbed.FreePort(t)
	config := func(tracing string) string {
		return testbed.Global("allow_private_targets\n\t\tretry 100ms") + fmt.Sprintf("http://127.0.0.1:%d {\n\t%s\n\twebhooks {\n\t\trules %s\n\t}\n\treverse_proxy %s\n}\n",
			port, tracing, rulePath, up.Listener.Addr())
	}
	c := testbed.StartCaddy(t, dir, config("tracing"),
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT="+col.srv.URL,
		"OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_SERVICE_NAME=webhooks-test", "OTEL_TRACES_SAMPLER=parentbased_always_on")
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	sub := testbed.Str(a.Create(map[string]any{"url": recv.srv.URL + "/hooks", "events": []string{"order.created"}})["id"])
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tracedPost(t, base+"/items/orders", clientTrace, clientSpan)
	testbed.Eventually(t, 15*time.Second, "two attempts (a 500, then a 200)", func() bool { return recv.count() == 2 })
	testbed.Eventually(t, 15*time.Second, "both attempts' spans", func() bool { return len(col.named("webhook order.created")) == 2 })

	var handler *span
	for _, s := range col.named("handler") { // Caddy's span of the request
		if s.trace == clientTrace && s.parent == clientSpan {
			handler = &s
		}
	}
	if handler == nil {
		t.Fatalf("no span of Caddy's tracing handler in the client's trace")
	}
	for _, s := range col.named("webhook order.created") {
		n := s.attrs["webhook.attempt"]
		tp, eventID := recv.at(map[string]int{"1": 0, "2": 1}[n])
		want := map[string]string{
			"http.request.method": "POST", "url.full": recv.srv.URL + "/hooks", "server.address": "127.0.0.1",
			"webhook.event": "order.created", "webhook.event_id": eventID, "webhook.subscription_id": sub,
			"http.response.status_code": map[string]string{"1": "500", "2": "200"}[n],
		}
		for k, v := range want {
			if s.attrs[k] != v {
				t.Errorf("attempt %s: %s = %q, want %q", n, k, s.attrs[k], v)
			}
		}
		if s.trace != clientTrace || s.parent != handler.id || s.kind != tracepb.Span_SPAN_KIND_CLIENT || s.service != "webhooks-test" {
			t.Errorf("attempt %s: trace %s, parent %s, kind %v, service %q; want the client's trace, parent %s (Caddy's span), a client span of webhooks-test",
				n, s.trace, s.parent, s.kind, s.service, handler.id)
		}
		if wantTP := "00-" + clientTrace + "-" + s.id + "-01"; tp != wantTP {
			t.Errorf("attempt %s: the receiver got traceparent %q, want %q (the attempt's span)", n, tp, wantTP)
		}
		failed := s.status.GetCode() == tracepb.Status_STATUS_CODE_ERROR
		if (n == "1") != failed || (failed && (!strings.Contains(s.status.GetMessage(), "receiver answered 500") || s.attrs["error.type"] != "500")) {
			t.Errorf("attempt %s: status %v, error.type %q; want an error (receiver answered 500) for the first only", n, s.status, s.attrs["error.type"])
		}
	}

	// Without tracing: no span, a traceparent in the client's trace still.
	if code, body := c.Load(config("")); code != http.StatusOK {
		t.Fatalf("reload without tracing: %d %s", code, body)
	}
	tracedPost(t, base+"/items/orders", clientTrace, clientSpan)
	testbed.Eventually(t, 15*time.Second, "the untraced delivery", func() bool { return recv.count() == 3 })
	tp, untraced := recv.at(2)
	if !strings.HasPrefix(tp, "00-"+clientTrace+"-") {
		t.Errorf("untraced delivery: traceparent %q, want one in the client's trace", tp)
	}
	// Traced again: the next attempt's span arrives, and none of the
	// untraced one before it.
	if code, body := c.Load(config("tracing")); code != http.StatusOK {
		t.Fatalf("reload with tracing: %d %s", code, body)
	}
	tracedPost(t, base+"/items/orders", clientTrace, clientSpan)
	testbed.Eventually(t, 15*time.Second, "the traced delivery after the reload", func() bool { return recv.count() == 4 })
	testbed.Eventually(t, 15*time.Second, "its span", func() bool { return len(col.named("webhook order.created")) >= 3 })
	for _, s := range col.named("webhook order.created") {
		if s.attrs["webhook.event_id"] == untraced {
			t.Errorf("the delivery made without tracing has a span: %+v", s)
		}
	}
}
