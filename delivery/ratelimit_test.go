package delivery_test

import (
	"slices"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestRateLimitPerSubscription: each subscription has its own rate. A slow
// one (10/m) gets its deliveries evenly spaced, none dropped and none
// counted as an attempt while it waits; a fast one (100/s) on the same
// events is not held back by it.
func TestRateLimitPerSubscription(t *testing.T) {
	t.Parallel()
	const orders = 30
	s := startStack(t, "")
	slowID, _ := s.subscribe("/slow-a", map[string]any{"events": []string{"order.*"}, "rate_limit": "10/m"})
	fastID, _ := s.subscribe("/fast-b", map[string]any{"events": []string{"order.*"}, "rate_limit": "100/s"})
	if r := s.subscription(slowID)["rate_limit"]; r != "10/m" {
		t.Fatalf("subscription A has rate_limit %v", r)
	}
	start := time.Now()
	for range orders {
		s.order()
	}
	t.Logf("%d orders created in %s", orders, time.Since(start).Round(time.Millisecond))

	// B gets everything at once, whatever A's rate.
	fast := s.rcv.wait(t, "/fast-b", orders, 10*time.Second)
	t.Logf("B received %d deliveries %s after the first order", len(fast), time.Since(start).Round(time.Millisecond))
	fastIDs := eventIDs(t, fast)
	if len(fastIDs) != orders || len(fast) != orders {
		t.Fatalf("B received %d deliveries with %d distinct event ids, want %d", len(fast), len(fastIDs), orders)
	}

	// A: at most 10 in the first minute after its first delivery, and
	// not much fewer (evenly spaced: one every 6s).
	first := s.rcv.wait(t, "/slow-a", 1, 10*time.Second)[0].at
	time.Sleep(time.Until(first.Add(60*time.Second + 500*time.Millisecond)))
	inFirstMinute := 0
	for _, g := range s.rcv.at("/slow-a") {
		if g.at.Before(first.Add(60 * time.Second)) {
			inFirstMinute++
		}
	}
	t.Logf("A received %d deliveries in the first 60s after its first one", inFirstMinute)
	if inFirstMinute > 10 || inFirstMinute < 9 {
		t.Errorf("A (10/m) received %d deliveries in the 60s after its first one; want 9 or 10", inFirstMinute)
	}

	// A eventually gets all of them: the excess waits, it is not dropped.
	testbed.Eventually(t, 4*time.Minute-time.Since(start), "all 30 deliveries to A", func() bool {
		return len(s.rcv.at("/slow-a")) >= orders
	})
	slow := s.rcv.at("/slow-a")
	t.Logf("A received all %d deliveries %s after its first one", len(slow), slow[len(slow)-1].at.Sub(first).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond) // a 31st delivery (a duplicate) would show up here
	slow = s.rcv.at("/slow-a")
	if len(slow) != orders {
		t.Errorf("A received %d deliveries, want %d", len(slow), orders)
	}
	for i, g := range slow {
		if a := g.header.Get("X-Webhook-Attempt"); a != "1" {
			t.Errorf("A's delivery %d carried X-Webhook-Attempt %s; waiting for the rate is not an attempt", i, a)
		}
	}
	// Spacing: whatever the window, no more than 10 in 60s (with a little
	// slack for the receiver's clock reading).
	for i := 0; i+10 < len(slow); i++ {
		if gap := slow[i+10].at.Sub(slow[i].at); gap < 60*time.Second-100*time.Millisecond {
			t.Errorf("A received deliveries %d to %d within %s: more than 10 a minute", i, i+10, gap)
		}
	}
	slowIDs := eventIDs(t, slow)
	if !slices.Equal(slowIDs, fastIDs) {
		t.Errorf("A and B received different events:\nA %v\nB %v", slowIDs, fastIDs)
	}

	// The admin API: every delivery of A succeeded on its one attempt.
	var dl []delivery
	testbed.Eventually(t, 10*time.Second, "A's 30 deliveries succeeded", func() bool {
		dl = s.deliveries(slowID, "succeeded")
		return len(dl) == orders
	})
	var stored []string
	for _, d := range dl {
		stored = append(stored, d.EventID)
		if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 {
			t.Errorf("A's delivery %s (event %s): %d attempts %+v; want exactly one, 200", d.ID, d.EventID, len(d.Attempts), d.Attempts)
		}
	}
	slices.Sort(stored)
	if !slices.Equal(slices.Compact(stored), fastIDs) {
		t.Errorf("A's stored deliveries are of events %v, B received %v", stored, fastIDs)
	}
	if other := s.deliveries(slowID, ""); len(other) != orders {
		t.Errorf("A has %d deliveries in all, want %d", len(other), orders)
	}
	if d := s.deliveries(fastID, "succeeded"); len(d) != orders {
		t.Errorf("B has %d succeeded deliveries, want %d", len(d), orders)
	}
}

// eventIDs returns the sorted distinct envelope ids of the received
// deliveries.
func eventIDs(t *testing.T, got []received) []string {
	t.Helper()
	var ids []string
	for _, g := range got {
		id, _, _, _ := envelope(t, g.body)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
