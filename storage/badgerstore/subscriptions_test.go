package badgerstore

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func TestSubscriptionStore(t *testing.T) {
	s := openTest(t)
	now := time.Now().UTC()
	a := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://a", Events: []string{"x.y"}, IsActive: true, CreatedAt: now}
	b := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://b", Events: []string{"x.y"}, CreatedAt: now.Add(time.Second)}
	for _, sub := range []*webhook.Subscription{b, a} {
		if err := s.PutSubscription(sub); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Subscriptions()
	if err != nil || len(list) != 2 || list[0].ID != a.ID {
		t.Fatalf("list %v %v: want a then b", list, err)
	}
	got, err := s.Subscription(a.ID)
	if err != nil || got.URL != "https://a" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Subscription("sub_nope"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	c, err := s.Count()
	if err != nil || c.Subscriptions != 2 || c.Active != 1 {
		t.Fatalf("count %+v %v", c, err)
	}
	// Concurrent updates all land: a conflict re-runs the function.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateSubscription(a.ID, func(sub *webhook.Subscription) error { sub.Stats.TotalSent++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.Subscription(a.ID); got.Stats.TotalSent != 20 {
		t.Errorf("after 20 concurrent updates total_sent = %d", got.Stats.TotalSent)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateSubscription(a.ID, func(sub *webhook.Subscription) error { sub.URL = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error: %v", err)
	}
	if got, _ := s.Subscription(a.ID); got.URL != "https://a" {
		t.Errorf("a failed update was stored: %s", got.URL)
	}
	if err := s.DeleteSubscription(a.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(a.ID, 0); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
