package delivery

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestDispatcherGonePauses: a 410 fails its delivery and, once the stats
// are written, pauses the subscription with the reason (stored, and logged
// once as subscription_paused); its other
// delivery is then never claimed, whatever the time, and stays pending as
// it was.
func TestDispatcherGonePauses(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigSettings()) // 4 workers: one delivery of a subscription at a time
	sub := r.subscribe("sub_gone", "/gone")
	r.rcv.on("/gone", reply{status: http.StatusGone})
	r.commit("order.created", 2)

	r.at(r.t0)
	r.sent("/gone", 1)
	if failed := r.deliveries(sub.ID, webhook.Failed); len(failed) != 1 || len(failed[0].Attempts) != 1 {
		t.Fatalf("after a 410: %d failed deliveries, want 1 with 1 attempt", len(failed))
	}
	r.d.flushStats()
	got := r.subscription(sub.ID)
	if got.IsActive || got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "410") {
		t.Fatalf("after a 410 the subscription is active %v, disabled_reason %v; want paused for the 410", got.IsActive, got.DisabledReason)
	}
	paused(t, r, sub.ID, "410")

	for _, later := range []time.Duration{time.Second, heldBack, time.Hour, 48 * time.Hour} {
		r.at(r.t0.Add(later))
	}
	r.sent("/gone", 1)
	heldStill(t, r.deliveries(sub.ID, webhook.Pending), 1)
}

// TestDispatcherGonePausesAtOnce: after a 410, the next round sends no
// other delivery of the subscription, without waiting for the periodic
// write of the stats (statsEvery): they would fail on a 410 too, dead
// letters, where a paused subscription's deliveries wait for its resume.
func TestDispatcherGonePausesAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigSettings()) // 4 workers: one delivery of a subscription at a time
	sub := r.subscribe("sub_gone", "/gone")
	r.rcv.on("/gone", reply{status: http.StatusGone})
	r.commit("order.created", 3)

	r.at(r.t0)
	r.at(r.t0.Add(time.Millisecond))
	r.sent("/gone", 1)
	if got := r.subscription(sub.ID); got.IsActive {
		t.Error("the subscription is still active after a 410")
	}
	heldStill(t, r.deliveries(sub.ID, webhook.Pending), 2)
}

// TestDispatcherDisableAfter: with disable_after 2, two failed deliveries
// in a row pause the subscription; a success between two failures starts
// the count again. Once paused (logged once as subscription_paused),
// nothing more is sent.
func TestDispatcherDisableAfter(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.DisableAfter = 2
	s.Workers = 1 // one delivery at a time
	r := newRig(t, s)
	sub := r.subscribe("sub_broken", "/broken")
	r.rcv.on("/broken", reply{status: 404}, reply{status: 200}, reply{status: 404})
	r.commit("order.created", 5)

	for i, want := range []struct {
		active bool
		fails  int64
	}{{true, 1}, {true, 0}, {true, 1}, {false, 2}} {
		r.at(r.t0.Add(time.Duration(i) * time.Second))
		r.sent("/broken", i+1)
		r.d.flushStats()
		got := r.subscription(sub.ID)
		if got.IsActive != want.active || got.Stats.ConsecutiveFailures != want.fails {
			t.Fatalf("after delivery %d: active %v, %d consecutive failures; want %v, %d",
				i+1, got.IsActive, got.Stats.ConsecutiveFailures, want.active, want.fails)
		}
	}
	got := r.subscription(sub.ID)
	if got.DisabledReason == nil || *got.DisabledReason != "2 consecutive failed deliveries" {
		t.Errorf("disabled_reason %v, want 2 consecutive failed deliveries", got.DisabledReason)
	}
	paused(t, r, sub.ID, "2 consecutive failed deliveries")
	r.at(r.t0.Add(time.Hour))
	r.sent("/broken", 4)
	heldStill(t, r.deliveries(sub.ID, webhook.Pending), 1)
}

// TestDispatcherPausedNotClaimed: the deliveries of a subscription paused
// through the API are not claimed, however long it stays paused (no lease,
// no attempt: they stay pending as they were), and go out once it is
// resumed.
func TestDispatcherPausedNotClaimed(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.Workers = 16 // room for the 3 at once after the resume
	r := newRig(t, s)
	sub := r.subscribe("sub_paused", "/paused")
	r.commit("order.created", 3)
	setActive(t, r, sub.ID, false)

	for _, later := range []time.Duration{0, time.Minute, time.Hour, 48 * time.Hour} {
		r.at(r.t0.Add(later))
	}
	r.sent("/paused", 0)
	heldStill(t, r.deliveries(sub.ID, webhook.Pending), 3)

	setActive(t, r, sub.ID, true)
	r.at(r.t0.Add(48*time.Hour + time.Second))
	r.sent("/paused", 3)
	if done := r.deliveries(sub.ID, webhook.Succeeded); len(done) != 3 {
		t.Errorf("%d deliveries succeeded after the resume, want 3", len(done))
	}
}

// pausesWhileClaiming is the store while an admin pauses a subscription
// between the dispatcher's look at the active subscriptions and its first
// claim.
type pausesWhileClaiming struct {
	Queue
	r      *rig
	subID  string
	paused atomic.Bool
}

func (q *pausesWhileClaiming) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	if !q.paused.Swap(true) {
		setActive(q.r.t, q.r, q.subID, false)
	}
	return q.Queue.Claim(ctx, now, lease, budget, wants)
}

// TestDispatcherPausedWhileClaimed: a delivery claimed as its subscription
// is paused is not sent: it is held back a minute, with no attempt, and
// goes out after that once the subscription is resumed.
func TestDispatcherPausedWhileClaimed(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	sub := r.subscribe("sub_racing", "/racing")
	r.commit("order.created", 1)
	r.d = r.newDispatcher(&pausesWhileClaiming{Queue: r.store, r: r, subID: sub.ID}, s)

	r.at(r.t0)
	r.sent("/racing", 0)
	dl := r.only(sub.ID)
	if dl.Status != webhook.Pending || len(dl.Attempts) != 0 || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(r.t0.Add(heldBack)) {
		t.Fatalf("claimed as its subscription was paused, the delivery is %s with %d attempts, due %s; want pending, none, due +%s",
			dl.Status, len(dl.Attempts), r.due(dl), heldBack)
	}

	setActive(t, r, sub.ID, true)
	r.at(r.t0.Add(heldBack - time.Millisecond))
	r.sent("/racing", 0)
	r.at(r.t0.Add(heldBack))
	if got := r.sent("/racing", 1); got[0].attempt != 1 {
		t.Errorf("held back, then sent as attempt %d, want 1", got[0].attempt)
	}
}

// setActive pauses or resumes a subscription, as the admin API does.
func setActive(t *testing.T, r *rig, id string, active bool) {
	t.Helper()
	_, err := r.store.UpdateSubscription(context.Background(), id, func(s *webhook.Subscription) error {
		s.IsActive = active
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// heldStill fails the test unless there are n pending deliveries, none
// attempted nor claimed: each still due when it was created.
func heldStill(t *testing.T, pending []*webhook.Delivery, n int) {
	t.Helper()
	if len(pending) != n {
		t.Fatalf("%d deliveries pending, want %d", len(pending), n)
	}
	for _, dl := range pending {
		if len(dl.Attempts) != 0 || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(dl.CreatedAt) {
			t.Errorf("delivery %s of a paused subscription: %d attempts, due %v; want none, due when created (%v)",
				dl.ID, len(dl.Attempts), dl.NextAttemptAt, dl.CreatedAt)
		}
	}
}

// paused fails the test unless the rig logged the pause of the
// subscription once, with a reason that says why.
func paused(t *testing.T, r *rig, subID, why string) {
	t.Helper()
	logged := r.logged("subscription_paused")
	if len(logged) != 1 {
		t.Fatalf("logged subscription_paused %d times, want once", len(logged))
	}
	fields := logged[0].ContextMap()
	if reason, _ := fields["reason"].(string); fields["subscription"] != subID || !strings.Contains(reason, why) {
		t.Errorf("subscription_paused logged %v; want subscription %s, a reason that says %q", fields, subID, why)
	}
}
