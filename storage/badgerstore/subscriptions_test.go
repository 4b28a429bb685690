package badgerstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func TestSubscriptionStore(t *testing.T) {
	s := openTest(t)
	now := time.Now().UTC()
	a := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://a", Events: []string{"x.y"}, IsActive: true, CreatedAt: now}
	b := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://b", Events: []string{"x.y"}, CreatedAt: now.Add(time.Second)}
	for _, sub := range []*webhook.Subscription{b, a} {
		if err := s.PutSubscription(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Subscriptions(context.Background())
	if err != nil || len(list) != 2 || list[0].ID != a.ID {
		t.Fatalf("list %v %v: want a then b", list, err)
	}
	got, err := s.Subscription(context.Background(), a.ID)
	if err != nil || got.URL != "https://a" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Subscription(context.Background(), "sub_nope"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	c, err := s.Count(context.Background())
	if err != nil || c.Subscriptions != 2 || c.Active != 1 {
		t.Fatalf("count %+v %v", c, err)
	}
	// Concurrent updates all land: a conflict re-runs the function.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateSubscription(context.Background(), a.ID, func(sub *webhook.Subscription) error { sub.Stats.TotalSent++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.Subscription(context.Background(), a.ID); got.Stats.TotalSent != 20 {
		t.Errorf("after 20 concurrent updates total_sent = %d", got.Stats.TotalSent)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateSubscription(context.Background(), a.ID, func(sub *webhook.Subscription) error { sub.URL = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error: %v", err)
	}
	if got, _ := s.Subscription(context.Background(), a.ID); got.URL != "https://a" {
		t.Errorf("a failed update was stored: %s", got.URL)
	}
	if err := s.DeleteSubscription(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(context.Background(), a.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// TestSnapshotKeepsLastCommittedUpdate: two updates of a subscription
// commit, then refresh the fan-out snapshot in the other order (the
// first one's refresh comes last); the snapshot must end with the second
// one's record, as ActiveSubscriptions feeds the fan-out and the
// dispatcher: a pause racing with a stats update must stay a pause.
func TestSnapshotKeepsLastCommittedUpdate(t *testing.T) {
	s := openTest(t)
	now := time.Now().UTC()
	sub := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://a", Events: []string{"*"}, IsActive: true, CreatedAt: now}
	if err := s.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	// The first update (stats) has committed but not refreshed the
	// snapshot yet when the second (a pause) commits and refreshes it.
	first := *sub
	first.Stats.TotalSent = 1
	if err := s.db.Update(func(txn *badger.Txn) error { return putSubscription(txn, &first) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSubscription(context.Background(), sub.ID, func(sub *webhook.Subscription) error { sub.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	s.replaceInSnapshot(&first) // the first update's refresh, late
	for _, act := range s.ActiveSubscriptions() {
		t.Errorf("paused subscription in ActiveSubscriptions: active %v, total_sent %d", act.IsActive, act.Stats.TotalSent)
	}
	if got := *s.subs.Load(); len(got) != 1 || got[0].IsActive || got[0].Stats.TotalSent != 1 {
		t.Errorf("snapshot = %+v, want the stored record (paused, total_sent 1)", got)
	}

	// A late refresh of a subscription deleted since does not bring it back.
	if err := s.DeleteSubscription(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	s.replaceInSnapshot(&first)
	if got := *s.subs.Load(); len(got) != 0 {
		t.Errorf("snapshot after the delete = %d subscriptions, want none", len(got))
	}
}
