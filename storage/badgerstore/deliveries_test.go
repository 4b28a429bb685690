package badgerstore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestClaimDue covers the per-subscription scans: each claims only its
// own subscription's due deliveries, Max and the budget cut scans short
// with Resume set, Next tells when the next one is due, and dueHints
// reports what committed transactions made due.
func TestClaimDue(t *testing.T) {
	s := openTest(t)
	for _, id := range []string{"sub_a", "sub_b"} {
		if err := s.PutSubscription(context.Background(), &webhook.Subscription{ID: id, URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}); err != nil {
			t.Fatal(err)
		}
	}
	if h := s.dueHints(); len(h) != 0 {
		t.Fatalf("hints before any delivery: %v", h)
	}
	var evs []webhook.Event
	t0 := time.Now()
	for range 5 {
		evs = append(evs, webhook.Event{ID: webhook.NewID("evt_", t0), Name: "order.created", Time: t0, Data: json.RawMessage(`{}`)})
	}
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	hints := s.dueHints()
	if len(hints) != 2 || hints["sub_a"].IsZero() || hints["sub_b"].IsZero() {
		t.Fatalf("hints after fan-out to two subscriptions: %v", hints)
	}
	if h := s.dueHints(); len(h) != 0 {
		t.Fatalf("hints are not forgotten once read: %v", h)
	}

	now := time.Now()
	scans := []scan{{SubID: "sub_a", Max: 3}, {SubID: "sub_b", Max: 10}}
	claims, err := s.claimDue(context.Background(), now, time.Minute, 4, scans)
	if err != nil {
		t.Fatal(err)
	}
	perSub := map[string]int{}
	for _, c := range claims {
		perSub[c.Sub.ID]++
		if c.Event == nil || c.Delivery.SubscriptionID != c.Sub.ID {
			t.Errorf("claim %+v", c)
		}
	}
	if perSub["sub_a"] != 3 || perSub["sub_b"] != 1 {
		t.Fatalf("claimed %v, want 3 of sub_a (its Max) and 1 of sub_b (the budget of 4)", perSub)
	}
	if !scans[0].Scanned || scans[0].Claimed != 3 || scans[0].Resume.IsZero() {
		t.Errorf("sub_a scan: %+v, want 3 claimed and a resume point", scans[0])
	}
	if !scans[1].Scanned || scans[1].Claimed != 1 || scans[1].Resume.IsZero() {
		t.Errorf("sub_b scan: %+v, want 1 claimed and a resume point", scans[1])
	}

	// The claimed ones are leased a minute ahead: the next scans take
	// the rest and report the leases as the next due time.
	scans = []scan{{SubID: "sub_a", From: scans[0].Resume, Max: 10}, {SubID: "sub_b", From: scans[1].Resume, Max: 10}}
	claims, err = s.claimDue(context.Background(), now, time.Minute, 100, scans)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 2+4 {
		t.Fatalf("second claim took %d, want 6", len(claims))
	}
	for _, sc := range scans {
		if !sc.Resume.IsZero() || !sc.Next.Equal(time.Unix(0, now.Add(time.Minute).UnixNano())) {
			t.Errorf("%s: resume %v next %v, want no resume and next = the lease's end", sc.SubID, sc.Resume, sc.Next)
		}
	}
	if h := s.dueHints(); len(h) != 0 {
		t.Errorf("claims (future leases) made hints: %v", h)
	}

	// A retry scheduled earlier than where a scan would start shows up
	// in the hints.
	at := now.Add(-time.Hour).UTC()
	if _, err := s.UpdateDelivery(context.Background(), claims[0].Delivery.ID, func(d *webhook.Delivery) error { d.NextAttemptAt = &at; return nil }); err != nil {
		t.Fatal(err)
	}
	if h := s.dueHints(); !h[claims[0].Sub.ID].Equal(at) {
		t.Errorf("hints after a reschedule: %v, want %s at %v", h, claims[0].Sub.ID, at)
	}
	scans = []scan{{SubID: claims[0].Sub.ID, From: at, Max: 10}}
	again, err := s.claimDue(context.Background(), time.Now(), time.Minute, 10, scans)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Delivery.ID != claims[0].Delivery.ID {
		t.Errorf("claim from the hint took %d deliveries, want the rescheduled one", len(again))
	}
}

// TestCancelOrphans: pending deliveries of a subscription that no longer
// exists are cancelled; those of live subscriptions are left alone.
func TestCancelOrphans(t *testing.T) {
	s := openTest(t)
	gone := &webhook.Subscription{ID: "sub_gone", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}
	live := &webhook.Subscription{ID: "sub_live", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}
	for _, sub := range []*webhook.Subscription{gone, live} {
		if err := s.PutSubscription(context.Background(), sub); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSubscription(context.Background(), gone.ID); err != nil {
		t.Fatal(err)
	}
	evs := []webhook.Event{{ID: webhook.NewID("evt_", time.Now()), Name: "a", Time: time.Now(), Data: json.RawMessage(`{}`)}}
	// A replay racing with the delete: it lands after it.
	for _, sub := range []*webhook.Subscription{gone, live, gone} {
		if _, err := s.AddDeliveries(context.Background(), sub, evs); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.cancelOrphans(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("cancelOrphans = %d, %v; want the 2 of the deleted subscription", n, err)
	}
	if d, _ := s.Deliveries(context.Background(), live.ID, webhook.Pending, 10); len(d) != 1 {
		t.Errorf("the live subscription has %d pending, want 1", len(d))
	}
	if d, _ := s.Deliveries(context.Background(), gone.ID, webhook.Cancelled, 10); len(d) != 2 {
		t.Errorf("the deleted subscription has %d cancelled, want 2", len(d))
	}
	if q := s.QueueDepth(); q != 1 {
		t.Errorf("queue depth %d, want 1", q)
	}
}
