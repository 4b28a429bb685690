package delivery

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestAttemptSpan: with a tracer, an attempt of an event without trace
// context is the root of a trace of its own, whose context the receiver
// gets; an attempt that fails before any answer (a transformation that
// does not apply) is an error span without a status code; without a
// tracer, an event without trace context sends none.
func TestAttemptSpan(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Traceparent"))
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	settings := Settings{Timeout: 5 * time.Second, Retry: []time.Duration{time.Minute}, Workers: 1, AllowPrivateTargets: true}
	sub := &webhook.Subscription{ID: "sub_1", URL: recv.URL + "/hooks/{event}", Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	ev := &webhook.Event{ID: "evt_1", Name: "order.created", Time: time.Now()}

	untraced := newSender(settings)
	untraced.send(t.Context(), sub, ev, 1)
	settings.Tracer = tp.Tracer(TracerName)
	s := newSender(settings)
	s.send(t.Context(), sub, ev, 3)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "" {
		t.Fatalf("traceparents %q, want none without a tracer, then one", got)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.Parent.IsValid() || sp.SpanKind != trace.SpanKindClient || sp.Name != "webhook order.created" {
		t.Errorf("span %q kind %v parent %v; want a client root span", sp.Name, sp.SpanKind, sp.Parent)
	}
	if want := "00-" + sp.SpanContext.TraceID().String() + "-" + sp.SpanContext.SpanID().String() + "-01"; got[1] != want {
		t.Errorf("the receiver got %q, want the span's %q", got[1], want)
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range sp.Attributes {
		attrs[kv.Key] = kv.Value.String()
	}
	for k, v := range map[attribute.Key]string{
		"url.full": recv.URL + "/hooks/order.created", "http.request.resend_count": "2", "webhook.attempt": "3",
		"http.response.status_code": "200", "webhook.subscription_id": "sub_1", "webhook.event_id": "evt_1",
	} {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}

	exp.Reset()
	bad := *sub
	bad.Transform = `{"total": data.nope.deeper}`
	res := s.send(t.Context(), &bad, &webhook.Event{ID: "evt_2", Name: "order.created", Time: time.Now(), Data: []byte(`{}`)}, 1)
	spans = exp.GetSpans()
	if res.outcome != Fail || len(spans) != 1 || spans[0].Status.Code != codes.Error || !strings.Contains(spans[0].Status.Description, res.attempt.Error) {
		t.Fatalf("failed transformation: outcome %v, spans %+v", res.outcome, spans)
	}
	for _, kv := range spans[0].Attributes {
		if kv.Key == "http.response.status_code" || (kv.Key == "error.type" && kv.Value.AsString() != "_OTHER") {
			t.Errorf("failed transformation's span has %s = %s", kv.Key, kv.Value.String())
		}
	}
}

// TestSpanURLRedactsQuery: url.full keeps the target's query keys, not
// their values, which may be tokens.
func TestSpanURLRedactsQuery(t *testing.T) {
	sub := &webhook.Subscription{ID: "sub_1"}
	ev := &webhook.Event{ID: "evt_1", Name: "order.created"}
	for target, want := range map[string]string{
		"https://hooks.example/in?token=s3cret&team=a": "https://hooks.example/in?team=REDACTED&token=REDACTED",
		"https://hooks.example:8443/in":                "https://hooks.example:8443/in",
	} {
		for _, kv := range spanAttributes(target, ev, sub, 1) {
			if kv.Key == "url.full" && kv.Value.AsString() != want {
				t.Errorf("url.full of %s = %q, want %q", target, kv.Value.AsString(), want)
			}
		}
	}
}
