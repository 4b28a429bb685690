package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// responseKeep is how much of a receiver's answer an attempt records.
const responseKeep = 1 << 10

// sender makes single attempts with go-retryablehttp. RetryMax is 0: the
// retry schedule lives in the store, so that a retry due in 15 minutes
// survives a restart; checkRetry and backoff still decide which answers are
// retried and when.
type sender struct {
	client  *retryablehttp.Client
	timeout time.Duration
	tracer  trace.Tracer // nil: attempts are no spans (tracing.go)
	creds   *credentials // auth.go
}

func newSender(s Settings) *sender {
	way := newEgress(s)
	transport := &http.Transport{
		// Up to every worker may be sending to one subscriber: each
		// keeps its connection open for the next delivery instead of
		// dialling a new one.
		MaxIdleConnsPerHost:   max(s.Workers, 16),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	way.apply(transport)
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{
		Transport: transport,
		Timeout:   s.Timeout,
		// A redirect is an answer like any other: not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.RetryMax = 0
	c.CheckRetry = checkRetry
	c.Backoff = backoff(s.Retry)
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.Logger = nil
	return &sender{client: c, timeout: s.Timeout, tracer: s.Tracer, creds: newCredentials(c, transport)}
}

// envelope is the JSON body of a delivery (docs/delivery.md, the request).
func envelope(ev *webhook.Event) ([]byte, error) {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return json.Marshal(struct {
		ID        string          `json:"id"`
		Event     string          `json:"event"`
		Timestamp string          `json:"timestamp"`
		UserID    json.RawMessage `json:"user_id,omitempty"`
		Data      json.RawMessage `json:"data"`
	}{ev.ID, ev.Name, ev.Time.UTC().Format(webhook.TimeFormat), ev.UserID, data})
}

// deliveryBody is the delivery of ev to sub: the envelope, with the data the
// subscription's transformation builds when it has one (the signature
// covers this body).
func deliveryBody(sub *webhook.Subscription, ev *webhook.Event) ([]byte, error) {
	if sub.Transform == "" || ev.Name == webhook.TestEvent { // a test shows that the target answers, as it is
		return envelope(ev)
	}
	data, err := payload.Apply(sub.Transform, ev)
	if err != nil {
		return nil, transformError{err}
	}
	out := *ev
	out.Data = data
	return envelope(&out)
}

// transformError is a transformation that fails on an event: trying
// again would fail the same way, so the delivery fails at once.
type transformError struct{ error }

func (e transformError) Unwrap() error { return e.error }

// result is the outcome of one attempt.
type result struct {
	outcome Outcome
	attempt webhook.Attempt
	resp    *http.Response // body closed; for Retry-After
	timeout bool
}

// send makes attempt number n of ev to sub.
func (s *sender) send(ctx context.Context, sub *webhook.Subscription, ev *webhook.Event, n int) result {
	now := time.Now()
	ctx, span := s.startSpan(ctx, sub, ev, n, now)
	res := result{attempt: webhook.Attempt{N: n, At: now.UTC()}}
	body, err := deliveryBody(sub, ev)
	if err == nil {
		var req *retryablehttp.Request
		req, err = s.request(ctx, sub, ev, n, body, now)
		if err == nil {
			var resp *http.Response
			resp, err = s.do(ctx, sub, req) // auth.go: credentials, mTLS
			if resp != nil {
				kept, _ := io.ReadAll(io.LimitReader(resp.Body, responseKeep))
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
				resp.Body.Close()
				res.attempt.StatusCode = resp.StatusCode
				res.attempt.ResponseBody = s.creds.redact(sub, req.Request.Header.Get("Authorization"), string(bytes.ToValidUTF8(kept, []byte("\uFFFD"))))
				res.resp = resp
			}
			// Not ctx: it is done when the attempt timed out, and the
			// default policy never retries a done context.
			res.outcome = classify(context.Background(), resp, err)
		}
	}
	res.attempt.DurationMs = time.Since(now).Milliseconds()
	if err != nil {
		res.attempt.Error = err.Error()
		var ne net.Error
		res.timeout = errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
		var te transformError
		switch {
		case errors.As(err, &te):
			res.outcome = Fail
		case res.outcome == Delivered: // an error before any answer
			res.outcome = Retry
		}
	} else if res.outcome != Delivered {
		res.attempt.Error = fmt.Sprintf("receiver answered %d %s", res.attempt.StatusCode, http.StatusText(res.attempt.StatusCode))
	}
	endSpan(span, res)
	return res
}

// request builds the signed POST of a delivery.
func (s *sender) request(ctx context.Context, sub *webhook.Subscription, ev *webhook.Event, n int, body []byte, now time.Time) (*retryablehttp.Request, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, sub.Target(ev.Name), body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for k, v := range sub.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("X-Webhook-Id", sub.ID)
	req.Header.Set("X-Webhook-Event", ev.Name)
	req.Header.Set("X-Webhook-Timestamp", ev.Time.UTC().Format(webhook.TimeFormat))
	req.Header.Set("X-Webhook-Attempt", strconv.Itoa(n))
	// Each attempt is a span of the trace of the request that caused the
	// event.
	traceHeaders(ctx, req.Header, ev)
	sig, err := signer.Sign(sub.Signature, signer.Message{ID: ev.ID, Timestamp: now, Body: body}, sub.Secrets(now)...)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	for k, v := range sig {
		req.Header[k] = v
	}
	return req, nil
}
