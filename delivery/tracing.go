package delivery

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TracerName names the tracer of delivery attempts.
const TracerName = "github.com/caddy-webhooks/caddy-webhooks/delivery"

// The attributes of an attempt's span that name the webhook.
const (
	webhookEvent        = attribute.Key("webhook.event")
	webhookEventID      = attribute.Key("webhook.event_id")
	webhookSubscription = attribute.Key("webhook.subscription_id")
	webhookAttempt      = attribute.Key("webhook.attempt")
)

// traceContext reads and writes W3C traceparent and tracestate, the
// context an event keeps and an attempt sends.
var traceContext = propagation.TraceContext{}

// startSpan starts the span of an attempt when the settings have a
// tracer: a client span, child of the event's trace context (a root when
// the event has none). Without a tracer it returns ctx and nil.
func (s *sender) startSpan(ctx context.Context, sub *webhook.Subscription, ev *webhook.Event, n int, now time.Time) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	parent := traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": ev.TraceParent, "tracestate": ev.TraceState})
	return s.tracer.Start(parent, "webhook "+ev.Name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(now),
		trace.WithAttributes(spanAttributes(sub.Target(ev.Name), ev, sub, n)...))
}

// spanAttributes are an attempt's attributes known before it is sent:
// OpenTelemetry's HTTP client ones, and the webhook's.
func spanAttributes(target string, ev *webhook.Event, sub *webhook.Subscription, n int) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodPost}
	if u, err := url.Parse(target); err == nil {
		// A subscription URL has no credentials; its query may carry a
		// token, whose value a span must not export (the keys stay).
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
		attrs = append(attrs, semconv.URLFull(u.String()), semconv.ServerAddress(u.Hostname()))
		if p, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	}
	if n > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(n-1))
	}
	return append(attrs,
		webhookEvent.String(ev.Name), webhookEventID.String(ev.ID),
		webhookSubscription.String(sub.ID), webhookAttempt.Int(n))
}

// endSpan records an attempt's outcome on its span and ends it.
func endSpan(span trace.Span, res result) {
	if span == nil {
		return
	}
	if res.attempt.StatusCode != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(res.attempt.StatusCode))
	}
	if res.attempt.Error != "" {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(res)))
		span.SetStatus(codes.Error, res.attempt.Error)
	}
	span.End()
}

// errorType is the error.type of a failed attempt: the status code of an
// answer, else a low-cardinality class.
func errorType(res result) string {
	switch {
	case res.attempt.StatusCode != 0:
		return strconv.Itoa(res.attempt.StatusCode)
	case res.timeout:
		return "timeout"
	}
	return "_OTHER"
}

// traceHeaders sets the attempt's traceparent and tracestate: its span's
// when it has one (the receiver's span is then the span's child),
// otherwise a new span id in the event's trace, as without tracing.
func traceHeaders(ctx context.Context, h http.Header, ev *webhook.Event) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		traceContext.Inject(ctx, propagation.HeaderCarrier(h))
		return
	}
	if tp := webhook.ChildTraceParent(ev.TraceParent); tp != "" {
		h.Set("Traceparent", tp)
		if ev.TraceState != "" {
			h.Set("Tracestate", ev.TraceState)
		}
	}
}
