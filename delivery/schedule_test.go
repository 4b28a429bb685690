package delivery

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestDispatcherRetrySchedule follows one delivery on a fake clock through
// the retry schedule (1m 5m 30m): each attempt goes out exactly when it is
// due and not a millisecond before, carries the same event id and the next
// attempt number, and the delivery ends succeeded, or failed (a dead
// letter) once out of attempts, with nothing sent after.
func TestDispatcherRetrySchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		answers []int
		want    string
	}{
		{"503 then 200: delivered on attempt 2", []int{503, 200}, webhook.Succeeded},
		{"500 every time: a dead letter after 1+3 attempts", []int{500, 500, 500, 500}, webhook.Failed},
		{"408, 429 and 502 retried, then 200", []int{408, 429, 502, 200}, webhook.Succeeded},
		{"400 fails at once", []int{400}, webhook.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := rigSettings()
			r := newRig(t, s)
			sub := r.subscribe("sub_flaky", "/flaky")
			var replies []reply
			for _, code := range tc.answers {
				replies = append(replies, reply{status: code})
			}
			r.rcv.on("/flaky", replies...)
			r.commit("order.created", 1)

			due := r.t0
			for k := 1; k <= len(tc.answers); k++ {
				if k > 1 {
					r.at(due.Add(-time.Millisecond))
					r.sent("/flaky", k-1)
				}
				r.at(due)
				got := r.sent("/flaky", k)
				if g := got[k-1]; g.attempt != k || g.eventID != got[0].eventID || !g.at.Equal(due) {
					t.Fatalf("request %d: attempt %d, event %s at +%s; want attempt %d, event %s at +%s",
						k, g.attempt, g.eventID, g.at.Sub(r.t0), k, got[0].eventID, due.Sub(r.t0))
				}
				dl := r.only(sub.ID)
				if len(dl.Attempts) != k || dl.Attempts[k-1].StatusCode != tc.answers[k-1] {
					t.Fatalf("after attempt %d the delivery records %+v", k, dl.Attempts)
				}
				if k == len(tc.answers) {
					break
				}
				if dl.Status != webhook.Pending || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(due.Add(s.Retry[k-1])) {
					t.Fatalf("after attempt %d: %s, due %s; want pending, due +%s", k, dl.Status, r.due(dl), due.Add(s.Retry[k-1]).Sub(r.t0))
				}
				due = due.Add(s.Retry[k-1])
			}
			dl := r.only(sub.ID)
			if dl.Status != tc.want || dl.NextAttemptAt != nil {
				t.Fatalf("in the end the delivery is %s, due %s; want %s, not due", dl.Status, r.due(dl), tc.want)
			}
			r.at(due.Add(24 * time.Hour))
			r.sent("/flaky", len(tc.answers))
		})
	}
}

// TestDispatcherRetryAfter: a 429 or 503 with Retry-After holds the retry
// back that long instead of the schedule's delay (1m here), bounded to 1h;
// other codes, and answers without a readable Retry-After, follow the
// schedule.
func TestDispatcherRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"429 Retry-After 120", http.StatusTooManyRequests, "120", 2 * time.Minute},
		{"503 Retry-After 120", http.StatusServiceUnavailable, "120", 2 * time.Minute},
		{"503 Retry-After 7200 is bounded to 1h", http.StatusServiceUnavailable, "7200", time.Hour},
		{"429 Retry-After an HTTP date 3h away is bounded to 1h", http.StatusTooManyRequests,
			time.Now().Add(3 * time.Hour).UTC().Format(http.TimeFormat), time.Hour},
		{"503 Retry-After 0 waits the least, 1s", http.StatusServiceUnavailable, "0", time.Second},
		{"429 Retry-After an HTTP date past waits the least, 1s", http.StatusTooManyRequests,
			time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), time.Second},
		{"503 Retry-After beyond time.Duration is bounded to 1h", http.StatusServiceUnavailable, "99999999999", time.Hour},
		{"500 Retry-After 120 is not read", http.StatusInternalServerError, "120", time.Minute},
		{"429 without Retry-After", http.StatusTooManyRequests, "", time.Minute},
		{"503 Retry-After unreadable", http.StatusServiceUnavailable, "soon", time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := rigSettings()
			s.Retry = []time.Duration{time.Minute}
			r := newRig(t, s)
			sub := r.subscribe("sub_busy", "/busy")
			first := reply{status: tc.status}
			if tc.retryAfter != "" {
				first.header = map[string]string{"Retry-After": tc.retryAfter}
			}
			r.rcv.on("/busy", first, reply{status: http.StatusOK})
			r.commit("order.created", 1)

			r.at(r.t0)
			r.sent("/busy", 1)
			due := r.t0.Add(tc.want)
			if dl := r.only(sub.ID); dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(due) {
				t.Fatalf("the retry is due %s, want +%s", r.due(dl), tc.want)
			}
			r.at(due.Add(-time.Millisecond))
			r.sent("/busy", 1)
			r.at(due)
			if got := r.sent("/busy", 2); got[1].attempt != 2 {
				t.Errorf("the retry carried attempt %d, want 2", got[1].attempt)
			}
			if dl := r.only(sub.ID); dl.Status != webhook.Succeeded {
				t.Errorf("the delivery is %s after the retry, want succeeded", dl.Status)
			}
		})
	}
}

// TestDispatcherRedeliveredDeadLetter: a dead letter redelivered as the
// admin route does it (pending, due now, a new run from its next attempt)
// goes out at once and gets a whole retry schedule of its own, as a new
// delivery would (1m, then 5m; not failed on its first 500 nor held back
// by the first run's delays), its attempts counting on from the first
// run's and its event id the same.
func TestDispatcherRedeliveredDeadLetter(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	sub := r.subscribe("sub_down", "/down")
	r.rcv.on("/down", reply{status: 500}) // every attempt of the first run
	r.commit("order.created", 1)
	due := r.t0
	for _, wait := range append([]time.Duration{0}, s.Retry...) {
		due = due.Add(wait)
		r.at(due)
	}
	r.sent("/down", 1+len(s.Retry))
	dl := r.only(sub.ID)
	if dl.Status != webhook.Failed {
		t.Fatalf("after %d attempts the delivery is %s, want failed", 1+len(s.Retry), dl.Status)
	}

	redo := due.Add(24 * time.Hour)
	r.clock.Set(redo)
	_, err := r.store.UpdateDelivery(context.Background(), dl.ID, func(d *webhook.Delivery) error {
		d.Status, d.RunStart, d.NextAttemptAt, d.UpdatedAt = webhook.Pending, len(d.Attempts), &redo, redo
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.rcv.on("/down", reply{status: 500}, reply{status: 500}, reply{status: 500}, reply{status: 200})
	due, before := redo, 1+len(s.Retry)
	for k, wait := range append([]time.Duration{0}, s.Retry...) {
		due = due.Add(wait)
		if wait > 0 {
			r.at(due.Add(-time.Millisecond))
			r.sent("/down", before+k)
		}
		r.at(due)
		got := r.sent("/down", before+k+1)
		if g := got[before+k]; g.attempt != before+k+1 || g.eventID != got[0].eventID || !g.at.Equal(due) {
			t.Fatalf("redelivery's request %d: attempt %d, event %s at +%s; want attempt %d, event %s at +%s",
				k+1, g.attempt, g.eventID, g.at.Sub(redo), before+k+1, got[0].eventID, due.Sub(redo))
		}
	}
	if dl := r.only(sub.ID); dl.Status != webhook.Succeeded || len(dl.Attempts) != before+1+len(s.Retry) {
		t.Errorf("after the redelivery the delivery is %s with %d attempts, want succeeded with %d", dl.Status, len(dl.Attempts), before+1+len(s.Retry))
	}
}
