package storagetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkOrderedDelivery: the deliveries of an ordered subscription that
// share an order key are claimable one at a time, in commit order; a retry
// holds its key back and no other; a delivery that fails for good or
// succeeds lets the next one go; an unordered subscription, and events
// without a key, are not held; waiting deliveries count as pending; a
// redelivery is not held by its line.
func checkOrderedDelivery(t testing.TB, s storage.Store) {
	ordered, plain := newSub("*"), newSub("*")
	ordered.Ordered = true
	put(t, s, ordered, plain)
	keyed := func(key string) webhook.Event {
		ev := events("order.status_changed", 1)[0]
		ev.OrderKey = key
		return ev
	}
	evs := []webhook.Event{keyed("order:1"), keyed("order:1"), keyed("order:2"), keyed("order:1"), keyed("")}
	for i := range evs { // one commit each: the order of commits is the order of inference
		commit(t, s, evs[i:i+1])
	}
	byEvent := func(claims []webhook.Claim) []string {
		var out []string
		for _, c := range claims {
			out = append(out, c.Event.ID)
		}
		slices.Sort(out)
		return out
	}
	want := func(ids ...string) []string { slices.Sort(ids); return ids }

	t1 := clock()
	if got := byEvent(claimAll(t, s, t1, plain)); !slices.Equal(got, want(idsOf(evs)...)) {
		t.Errorf("unordered subscription claimed %v, want every event %v", got, idsOf(evs))
	}
	first := claimAll(t, s, t1, ordered)
	if got := byEvent(first); !slices.Equal(got, want(evs[0].ID, evs[2].ID, evs[4].ID)) {
		t.Fatalf("ordered subscription claimed %v, want the first of each key and the unkeyed event %v", got, want(evs[0].ID, evs[2].ID, evs[4].ID))
	}
	if q := s.QueueDepth(); q != 10 {
		t.Errorf("queue depth %d, want 10 (waiting deliveries are pending)", q)
	}
	waiting, err := s.Deliveries(context.Background(), ordered.ID, webhook.Pending, 10)
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	nWaiting := 0
	for _, d := range waiting {
		if d.Waiting {
			nWaiting++
			if d.OrderKey != "order:1" || d.NextAttemptAt != nil {
				t.Errorf("waiting delivery of %s: order key %q, next attempt %v; want order:1 and none", d.EventID, d.OrderKey, d.NextAttemptAt)
			}
		}
	}
	if nWaiting != 2 {
		t.Errorf("%d of the ordered subscription's pending deliveries are waiting, want 2", nWaiting)
	}

	claimed := map[string]string{} // event id → delivery id
	for _, c := range first {
		claimed[c.Event.ID] = c.Delivery.ID
	}
	retryAt := t1.Add(time.Hour)
	finish(t, s, claimed[evs[0].ID], webhook.Pending, &retryAt, t1) // a retry in an hour
	finish(t, s, claimed[evs[2].ID], webhook.Succeeded, nil, t1)
	finish(t, s, claimed[evs[4].ID], webhook.Succeeded, nil, t1)
	if got := claimAll(t, s, t1.Add(2*lease), ordered); len(got) != 0 {
		t.Errorf("while order:1's first delivery waits for its retry, claimed %v; want nothing", byEvent(got))
	}
	finish(t, s, claimed[evs[0].ID], webhook.Failed, nil, t1) // dead-lettered: releases its key
	second := claimAll(t, s, t1.Add(3*lease), ordered)
	if got := byEvent(second); !slices.Equal(got, want(evs[1].ID)) {
		t.Fatalf("after the first of order:1 failed for good, claimed %v, want %v", got, evs[1].ID)
	}
	finish(t, s, second[0].Delivery.ID, webhook.Succeeded, nil, t1)
	third := claimAll(t, s, t1.Add(4*lease), ordered)
	if got := byEvent(third); !slices.Equal(got, want(evs[3].ID)) {
		t.Fatalf("after the second of order:1 succeeded, claimed %v, want %v", got, evs[3].ID)
	}

	// A redelivery leaves its line: it goes when due, even while its key
	// has a pending delivery.
	now := time.Now().UTC()
	redone := update(t, s, claimed[evs[0].ID], func(d *webhook.Delivery) { d.Redeliver(now) })
	if redone.Waiting || redone.OrderKey != "" {
		t.Errorf("a redelivery: waiting %v, order key %q; want neither", redone.Waiting, redone.OrderKey)
	}
	// third's claim holds until t1+5*lease
	got := byEvent(claimAll(t, s, t1.Add(4*lease+time.Second), ordered))
	if !slices.Equal(got, want(evs[0].ID)) {
		t.Errorf("with order:1's last delivery claimed, claimed %v, want the redelivery of %s", got, evs[0].ID)
	}
}

// checkOrderedDeleteCancels: deleting an ordered subscription cancels its
// waiting deliveries too.
func checkOrderedDeleteCancels(t testing.TB, s storage.Store) {
	sub := newSub("*")
	sub.Ordered = true
	put(t, s, sub)
	evs := events("order.status_changed", 3)
	for i := range evs {
		evs[i].OrderKey = "order:1"
		commit(t, s, evs[i:i+1])
	}
	if q := s.QueueDepth(); q != 3 {
		t.Fatalf("queue depth %d, want 3", q)
	}
	if err := s.DeleteSubscription(context.Background(), sub.ID); err != nil {
		t.Fatalf("DeleteSubscription: %v", err)
	}
	eventually(t, "the waiting deliveries cancelled", func() bool { return s.QueueDepth() == 0 })
	c, err := s.Count(context.Background())
	if err != nil || c.Deliveries[webhook.Cancelled] != 3 {
		t.Errorf("Count: %+v, %v; want 3 cancelled", c.Deliveries, err)
	}
}

// claimAll claims every due delivery of sub at now.
func claimAll(t testing.TB, s storage.Store, now time.Time, sub *webhook.Subscription) []webhook.Claim {
	t.Helper()
	got, _ := claim(t, s, now, 100, wantEach(100, sub)...)
	return got
}

// finish records an attempt of delivery id and leaves it with status
// (pending: due at next).
func finish(t testing.TB, s storage.Store, id, status string, next *time.Time, at time.Time) {
	t.Helper()
	update(t, s, id, func(d *webhook.Delivery) {
		d.Attempts = append(d.Attempts, webhook.Attempt{N: len(d.Attempts) + 1, At: at, StatusCode: 503})
		d.Status, d.NextAttemptAt, d.UpdatedAt = status, next, at
	})
}
