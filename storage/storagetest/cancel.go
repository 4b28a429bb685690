package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkCancelled: every method that takes a context gives up on one that
// is done, with an error matching its cause, and a write it gives up on
// before starting is not made.
func checkCancelled(t testing.TB, s storage.Store) {
	sub, evs, id := oneClaimed(t, s)
	depth := s.QueueDepth()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, op := range everyCall(ctx, s, sub, id, evs) {
		if err := op(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error matching context.Canceled", name, err)
		}
	}

	// Nothing was written.
	if v, err := s.Snapshot(context.Background(), "k"); err != nil || v != nil {
		t.Errorf("snapshot of a cancelled Commit: %q, %v; want none", v, err)
	}
	if got := eventIDs(t, s, evs[0].Time); len(got) != 1 {
		t.Errorf("events after a cancelled Commit: %v, want only the first", got)
	}
	if subs, err := s.Subscriptions(context.Background()); err != nil || len(subs) != 1 {
		t.Errorf("subscriptions after a cancelled Put and Delete: %d, %v; want 1", len(subs), err)
	}
	if d, err := s.Delivery(context.Background(), id); err != nil || d.Status != webhook.Pending {
		t.Errorf("delivery after a cancelled UpdateDelivery: %+v, %v; want it pending", d, err)
	}
	if s.QueueDepth() != depth {
		t.Errorf("queue depth %d after cancelled writes, want %d", s.QueueDepth(), depth)
	}
	// And nothing is held: the key is free.
	lockWithin(t, s, "k")()
}

// oneClaimed gives a store a subscription to every event, one event, and
// its delivery, claimed.
func oneClaimed(t testing.TB, s storage.Store) (sub *webhook.Subscription, evs []webhook.Event, deliveryID string) {
	t.Helper()
	sub = newSub("*")
	put(t, s, sub)
	evs = events("order.created", 1)
	commit(t, s, evs)
	claims, _ := claim(t, s, clock(), 1, wantEach(1, sub)...)
	if len(claims) != 1 {
		t.Fatalf("claimed %d of 1", len(claims))
	}
	return sub, evs, claims[0].Delivery.ID
}

// everyCall is a call of each method that takes a context, by name, with
// ctx, on the records of oneClaimed; each write would change what it
// reads (a snapshot "k", a new event, a second subscription, sub deleted,
// the delivery failed, another delivery).
func everyCall(ctx context.Context, s storage.Store, sub *webhook.Subscription, deliveryID string, evs []webhook.Event) map[string]func() error {
	more := events("order.paid", 1)
	return map[string]func() error{
		"Commit":           func() error { return s.Commit(ctx, more, nil) },
		"Commit(snapshot)": func() error { return s.Commit(ctx, nil, []webhook.Snapshot{{Key: "k", Value: []byte(`1`)}}) },
		"Snapshot":         func() error { _, err := s.Snapshot(ctx, "k"); return err },
		"LockKeys":         func() error { _, err := s.LockKeys(ctx, []string{"k"}); return err },
		"EventsSince":      func() error { return s.EventsSince(ctx, time.Time{}, func(webhook.Event) error { return nil }) },
		"RecentEvents":     func() error { _, err := s.RecentEvents(ctx, 10, ""); return err },
		"Subscription":     func() error { _, err := s.Subscription(ctx, sub.ID); return err },
		"Subscriptions":    func() error { _, err := s.Subscriptions(ctx); return err },
		"PutSubscription":  func() error { return s.PutSubscription(ctx, newSub("*")) },
		"UpdateSubscription": func() error {
			_, err := s.UpdateSubscription(ctx, sub.ID, func(*webhook.Subscription) error { return nil })
			return err
		},
		"DeleteSubscription": func() error { return s.DeleteSubscription(ctx, sub.ID) },
		"Claim": func() error {
			_, _, err := s.Claim(ctx, clock().Add(time.Hour), lease, 1, wantEach(1, sub))
			return err
		},
		"UpdateDelivery": func() error {
			_, err := s.UpdateDelivery(ctx, deliveryID, func(d *webhook.Delivery) error { d.Status = webhook.Failed; return nil })
			return err
		},
		"Delivery":      func() error { _, err := s.Delivery(ctx, deliveryID); return err },
		"Deliveries":    func() error { _, err := s.Deliveries(ctx, sub.ID, "", 10); return err },
		"AddDeliveries": func() error { _, err := s.AddDeliveries(ctx, sub, evs); return err },
		"Count":         func() error { _, err := s.Count(ctx); return err },
	}
}
