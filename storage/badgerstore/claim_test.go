package badgerstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestClaimCursors: Claim starts each subscription's scan where the last
// one left off, and a delivery made due earlier than that (a retry moved
// back, a redelivery) is still claimed at once, through the due hints,
// rather than at the next full scan; a paused subscription's cursor is
// forgotten.
func TestClaimCursors(t *testing.T) {
	s := openTest(t)
	sub := &webhook.Subscription{ID: "sub_a", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}
	if err := s.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	evs := []webhook.Event{
		{ID: webhook.NewID("evt_", t0), Name: "a.b", Time: t0, Data: json.RawMessage(`1`)},
		{ID: webhook.NewID("evt_", t0), Name: "a.b", Time: t0, Data: json.RawMessage(`2`)},
	}
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	want := []webhook.Want{{SubID: "sub_a", Max: 10}}

	// The first claim takes both; the cursor moves to its now.
	now := t0.Add(time.Second)
	claims, _, err := s.Claim(context.Background(), now, time.Hour, 10, want)
	if err != nil || len(claims) != 2 {
		t.Fatalf("first claim: %d claims, %v", len(claims), err)
	}
	if from := s.cursors.from["sub_a"]; !from.Equal(now) {
		t.Fatalf("cursor after the first claim: %v, want %v", from, now)
	}

	// One delivery is made due again before the cursor (as a redelivery
	// is): the next claim, well before the next full scan, finds it.
	back := t0.Add(-time.Minute)
	if _, err := s.UpdateDelivery(context.Background(), claims[0].Delivery.ID, func(d *webhook.Delivery) error {
		d.NextAttemptAt = &back
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.Claim(context.Background(), now.Add(time.Second), time.Hour, 10, want)
	if err != nil || len(again) != 1 || again[0].Delivery.ID != claims[0].Delivery.ID {
		t.Fatalf("claim after a delivery was made due before the cursor: %d claims, %v", len(again), err)
	}

	// Paused: its cursor is forgotten, so its scans start from the
	// beginning once it is active again.
	if _, err := s.UpdateSubscription(context.Background(), "sub_a", func(sub *webhook.Subscription) error {
		sub.IsActive = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim(context.Background(), now.Add(2*time.Second), time.Hour, 10, nil); err != nil {
		t.Fatal(err)
	}
	if _, kept := s.cursors.from["sub_a"]; kept {
		t.Error("the cursor of a paused subscription is kept")
	}
}

// TestClaimLookahead: past now, a claim scan reads at most lookahead
// deletion markers (the leases of deliveries already recorded) looking for
// when the next delivery is due; past that it gives up and says it does
// not know (the dispatcher looks again within a second) instead of
// walking every lease of the last lease period at each claim.
func TestClaimLookahead(t *testing.T) {
	for _, tc := range []struct {
		recorded int
		known    bool
	}{
		{lookahead - 1, true},
		{lookahead + 10, false},
	} {
		t.Run(fmt.Sprintf("%d recorded", tc.recorded), func(t *testing.T) {
			s := openTest(t)
			sub := &webhook.Subscription{ID: "sub_a", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}
			if err := s.PutSubscription(context.Background(), sub); err != nil {
				t.Fatal(err)
			}
			commit := func(n int) {
				now := time.Now()
				evs := make([]webhook.Event, n)
				for i := range evs {
					evs[i] = webhook.Event{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now, Data: json.RawMessage(`1`)}
				}
				if err := s.Commit(context.Background(), evs, nil); err != nil {
					t.Fatal(err)
				}
			}
			want := []webhook.Want{{SubID: "sub_a", Max: 1000}}
			// Claimed under a 1h lease, then recorded: deletion markers at +1h.
			commit(tc.recorded)
			now := time.Now().Add(time.Second)
			claims, _, err := s.Claim(context.Background(), now, time.Hour, 1000, want)
			if err != nil || len(claims) != tc.recorded {
				t.Fatalf("claim: %d claims, %v", len(claims), err)
			}
			for _, c := range claims {
				if _, err := s.UpdateDelivery(context.Background(), c.Delivery.ID, func(d *webhook.Delivery) error {
					d.Status, d.NextAttemptAt = webhook.Succeeded, nil
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			// One in flight under a 2h lease: the next due, after the markers.
			commit(1)
			now = now.Add(time.Second)
			if got, _, err := s.Claim(context.Background(), now, 2*time.Hour, 1000, want); err != nil || len(got) != 1 {
				t.Fatalf("claim: %d claims, %v", len(got), err)
			}
			_, next, err := s.Claim(context.Background(), now.Add(time.Second), time.Hour, 1000, want)
			if err != nil {
				t.Fatal(err)
			}
			if known := !next.IsZero(); known != tc.known {
				t.Errorf("next due %v (known %v), want known %v", next, known, tc.known)
			}
			if tc.known && !next.Equal(now.Add(2*time.Hour)) {
				t.Errorf("next due %v, want the lease's end %v", next, now.Add(2*time.Hour))
			}
		})
	}
}
