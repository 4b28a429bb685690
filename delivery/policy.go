package delivery

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Outcome is what an attempt's result means for its delivery.
type Outcome int

const (
	// Delivered: a 2xx answer.
	Delivered Outcome = iota
	// Retry: a network error, a timeout, 408, 429 or 5xx; tried again on
	// the retry schedule while attempts remain.
	Retry
	// Fail: any other answer; the delivery fails at once.
	Fail
	// Gone: 410; the delivery fails and the subscription is paused.
	Gone
	// moot: the delivery was cancelled during the attempt; the attempt is
	// recorded and changes nothing else.
	moot
)

// checkRetry is the client's retryablehttp CheckRetry: the library's
// default policy (network errors, 429 and 5xx retried; redirects, TLS
// verification errors and 501 not), plus 408 retried and 410 and other
// 4xx final. The client sends one attempt per call; the delivery's retry
// schedule is persisted in the store, so a retry may come after a restart.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && resp.StatusCode == http.StatusRequestTimeout {
		return true, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// classify turns an attempt's answer into an outcome, through checkRetry.
func classify(ctx context.Context, resp *http.Response, err error) Outcome {
	if errors.Is(err, errBlocked) {
		return Fail
	}
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return Delivered
	}
	if err == nil && resp.StatusCode == http.StatusGone {
		return Gone
	}
	if retry, _ := checkRetry(ctx, resp, err); retry {
		return Retry
	}
	return Fail
}

// maxRetryAfter bounds how long a receiver's Retry-After can hold a
// delivery back.
const maxRetryAfter = time.Hour

// backoff returns the client's retryablehttp Backoff for a retry schedule:
// the delay before retry number attemptNum (1 = the first retry) is the
// schedule's, unless a 429 or 503 answer says Retry-After, which is
// honoured between 1s and maxRetryAfter.
func backoff(schedule []time.Duration) retryablehttp.Backoff {
	return func(_, _ time.Duration, attemptNum int, resp *http.Response) time.Duration {
		delay := schedule[min(max(attemptNum, 1), len(schedule))-1]
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				delay = min(max(ra, time.Second), maxRetryAfter)
			}
		}
		return delay
	}
}

// retryAfter reads a Retry-After value, seconds or an HTTP date; false if
// there is none or it cannot be read. retryablehttp's DefaultBackoff reads
// it too, but answers 0 alike for "0", a date past and no value: "retry
// now" would wait the schedule's delay.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(s, uint64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}

// errBlocked marks an attempt refused before any byte was sent (a target
// in a private network): it is final, not retried.
var errBlocked = errors.New("target refused")
