package storagetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkSubscriptionCRUD: subscriptions are stored whole, replaced,
// updated (not when fn fails) and deleted; unknown ids are ErrNotFound;
// ActiveSubscriptions follows IsActive at once.
func checkSubscriptionCRUD(t testing.TB, s storage.Store) {
	const unknown = "sub_unknown"
	if _, err := s.Subscription(context.Background(), unknown); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("Subscription(unknown): %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateSubscription(context.Background(), unknown, func(*webhook.Subscription) error { return nil }); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("UpdateSubscription(unknown): %v, want ErrNotFound", err)
	}
	if err := s.DeleteSubscription(context.Background(), unknown); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("DeleteSubscription(unknown): %v, want ErrNotFound", err)
	}
	if list, err := s.Subscriptions(context.Background()); err != nil || len(list) != 0 || len(s.ActiveSubscriptions()) != 0 {
		t.Errorf("an empty store lists %d subscriptions (%v), %d active", len(list), err, len(s.ActiveSubscriptions()))
	}

	a := newSub("order.*", "customer.created")
	reason, expires, sent := "receiver gone", time.Now().Add(time.Hour).UTC(), time.Now().UTC()
	a.AppName, a.Description, a.RateLimit, a.ManagedBy = "shop", "orders to the ERP", "10/s", webhook.ManagedByConfig
	a.Headers = map[string]string{"Authorization": "Bearer x", "X-Team": "erp"}
	a.Filters.SiteIDs = []string{"s1", "s2"}
	a.PreviousSecret, a.PreviousSecretExpiresAt = "whsec_b2xk", &expires
	a.Stats = webhook.Stats{TotalSent: 3, TotalFailed: 1, LastSentAt: &sent, LastError: &reason, ConsecutiveFailures: 1}
	b := newSub("*")
	b.IsActive, b.DisabledReason = false, &reason
	put(t, s, a, b)

	if got, err := s.Subscription(context.Background(), a.ID); err != nil {
		t.Fatalf("Subscription: %v", err)
	} else if diff := sameJSON(got, a); diff != "" {
		t.Errorf("subscription read back differs:\n%s", diff)
	}
	list, err := s.Subscriptions(context.Background())
	if err != nil || len(list) != 2 || findSub(list, a.ID) == nil || findSub(list, b.ID) == nil {
		t.Fatalf("Subscriptions = %d, %v; want a and b", len(list), err)
	}
	if diff := sameJSON(findSub(list, b.ID), b); diff != "" {
		t.Errorf("listed subscription differs:\n%s", diff)
	}
	assertActive(t, s, a)

	a2 := *a
	a2.URL = "https://receiver.example/v2"
	put(t, s, &a2)
	if got, _ := s.Subscription(context.Background(), a.ID); got == nil || got.URL != a2.URL {
		t.Errorf("PutSubscription did not replace: %+v", got)
	}
	if list, _ := s.Subscriptions(context.Background()); len(list) != 2 {
		t.Errorf("after a replace, %d subscriptions, want 2", len(list))
	}
	if act := findSub(s.ActiveSubscriptions(), a.ID); act == nil || act.URL != a2.URL {
		t.Errorf("ActiveSubscriptions after a replace: %+v, want the new URL", act)
	}

	got, err := s.UpdateSubscription(context.Background(), b.ID, func(sub *webhook.Subscription) error {
		sub.IsActive, sub.DisabledReason = true, nil
		return nil
	})
	if err != nil || !got.IsActive {
		t.Fatalf("resuming b: %+v, %v", got, err)
	}
	assertActive(t, s, a, b)
	if _, err := s.UpdateSubscription(context.Background(), a.ID, func(sub *webhook.Subscription) error { sub.IsActive = false; return nil }); err != nil {
		t.Fatalf("pausing a: %v", err)
	}
	assertActive(t, s, b)

	boom := errors.New("boom")
	if _, err := s.UpdateSubscription(context.Background(), b.ID, func(sub *webhook.Subscription) error { sub.IsActive = false; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateSubscription whose fn fails: %v, want its error", err)
	}
	if got, _ := s.Subscription(context.Background(), b.ID); got == nil || !got.IsActive {
		t.Errorf("an update whose fn failed was stored: %+v", got)
	}
	assertActive(t, s, b)

	if err := s.DeleteSubscription(context.Background(), a.ID); err != nil {
		t.Fatalf("DeleteSubscription: %v", err)
	}
	if _, err := s.Subscription(context.Background(), a.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("Subscription after its delete: %v, want ErrNotFound", err)
	}
	if list, _ := s.Subscriptions(context.Background()); len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("after deleting a, %d subscriptions listed, want b", len(list))
	}
	if c, err := s.Count(context.Background()); err != nil || c.Subscriptions != 1 || c.Active != 1 {
		t.Errorf("Count after the delete: %+v, %v; want 1 subscription, 1 active", c, err)
	}
}

// assertActive checks that ActiveSubscriptions holds exactly subs.
func assertActive(t testing.TB, s storage.Store, subs ...*webhook.Subscription) {
	t.Helper()
	act := s.ActiveSubscriptions()
	ok := len(act) == len(subs)
	for _, sub := range subs {
		ok = ok && findSub(act, sub.ID) != nil
	}
	if !ok {
		var ids []string
		for _, sub := range act {
			ids = append(ids, sub.ID)
		}
		t.Errorf("ActiveSubscriptions = %v, want %d: %v", ids, len(subs), func() (out []string) {
			for _, sub := range subs {
				out = append(out, sub.ID)
			}
			return out
		}())
	}
}

// checkSubscriptionConcurrentUpdates: concurrent updates of one
// subscription all land, each once (stats from many delivery workers),
// and ActiveSubscriptions ends with the last of them: an admin's pause
// racing with stats updates stays paused.
func checkSubscriptionConcurrentUpdates(t testing.TB, s storage.Store) {
	sub, other := newSub("*"), newSub("*")
	sub.Stats, other.Stats = webhook.Stats{}, webhook.Stats{}
	put(t, s, sub, other)
	const n = 16
	run := func(pause bool) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				id := sub.ID
				if i%4 == 3 {
					id = other.ID // another subscription's updates go on meanwhile
				}
				if _, err := s.UpdateSubscription(context.Background(), id, func(sub *webhook.Subscription) error { sub.Stats.TotalSent++; return nil }); err != nil {
					t.Errorf("UpdateSubscription: %v", err)
				}
			})
		}
		if pause {
			wg.Go(func() {
				<-start
				if _, err := s.UpdateSubscription(context.Background(), sub.ID, func(sub *webhook.Subscription) error { sub.IsActive = false; return nil }); err != nil {
					t.Errorf("pausing: %v", err)
				}
			})
		}
		wg.Go(func() { // readers meanwhile
			<-start
			for range n {
				_ = s.ActiveSubscriptions()
				if _, err := s.Subscriptions(context.Background()); err != nil {
					t.Errorf("Subscriptions: %v", err)
				}
			}
		})
		close(start)
		wg.Wait()
	}

	run(false)
	mine, theirs := int64(n-n/4), int64(n/4)
	for id, n := range map[string]int64{sub.ID: mine, other.ID: theirs} {
		got, err := s.Subscription(context.Background(), id)
		if err != nil {
			t.Fatalf("Subscription: %v", err)
		}
		if got.Stats.TotalSent != n {
			t.Errorf("after %d concurrent increments, stored total_sent = %d", n, got.Stats.TotalSent)
		}
		if act := findSub(s.ActiveSubscriptions(), id); act == nil {
			t.Errorf("an active subscription is not in ActiveSubscriptions after concurrent updates")
		} else if act.Stats.TotalSent != n {
			t.Errorf("after %d concurrent increments, ActiveSubscriptions has total_sent %d", n, act.Stats.TotalSent)
		}
	}

	run(true)
	got, err := s.Subscription(context.Background(), sub.ID)
	if err != nil {
		t.Fatalf("Subscription: %v", err)
	}
	if got.IsActive || got.Stats.TotalSent != 2*mine {
		t.Errorf("after a pause racing with %d increments: active %v, total_sent %d; want paused with total_sent %d", mine, got.IsActive, got.Stats.TotalSent, 2*mine)
	}
	if act := findSub(s.ActiveSubscriptions(), sub.ID); act != nil {
		t.Errorf("a subscription paused while its stats were updated is still in ActiveSubscriptions (total_sent %d)", act.Stats.TotalSent)
	}
}

// checkDeleteCancelsPending: deleting a subscription cancels its pending
// deliveries, claimed or not, keeps its finished ones, and takes it out
// of the fan-out and the claims.
func checkDeleteCancelsPending(t testing.TB, s storage.Store) {
	gone, keep := newSub("*"), newSub("*")
	put(t, s, gone, keep)
	commit(t, s, events("order.created", 3))
	t1 := clock()
	claims, _ := claim(t, s, t1, 2, wantEach(2, gone)...)
	if len(claims) != 2 {
		t.Fatalf("claimed %d of gone's 3", len(claims))
	}
	finished := claims[0].Delivery.ID
	update(t, s, finished, func(d *webhook.Delivery) { d.Status, d.NextAttemptAt = webhook.Succeeded, nil })
	ds, err := s.Deliveries(context.Background(), gone.ID, "", 10)
	if err != nil || len(ds) != 3 {
		t.Fatalf("Deliveries(gone) = %d, %v", len(ds), err)
	}

	if err := s.DeleteSubscription(context.Background(), gone.ID); err != nil {
		t.Fatalf("DeleteSubscription: %v", err)
	}
	for _, d := range ds {
		got := delivery(t, s, d.ID)
		want := webhook.Cancelled
		if d.ID == finished {
			want = webhook.Succeeded
		}
		if got.Status != want || (want == webhook.Cancelled && got.NextAttemptAt != nil) {
			t.Errorf("delivery %s after its subscription's delete: %s, due %v; want %s", d.ID, got.Status, got.NextAttemptAt, want)
		}
	}
	if q := s.QueueDepth(); q != 3 {
		t.Errorf("queue depth after the delete = %d, want keep's 3", q)
	}
	later := t1.Add(lease + time.Second)
	claims, _ = claim(t, s, later, 100, wantEach(10, gone, keep)...)
	if got := perSub(claims); got[gone.ID] != 0 || got[keep.ID] != 3 {
		t.Errorf("claims after the delete: gone %d, keep %d; want 0 and 3", got[gone.ID], got[keep.ID])
	}
	commit(t, s, events("order.paid", 1))
	if q := s.QueueDepth(); q != 4 {
		t.Errorf("queue depth after a commit following the delete = %d, want 4 (keep's only)", q)
	}
	if findSub(s.ActiveSubscriptions(), gone.ID) != nil {
		t.Error("a deleted subscription is in ActiveSubscriptions")
	}
}
