package delivery

import (
	"slices"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestRateLimitBurstUnderLimit: under the default rate_limit (100/m), a
// burst of 5 events goes out at once, not spaced over the minute.
func TestRateLimitBurstUnderLimit(t *testing.T) {
	t.Parallel()
	const orders = 5
	s := startStack(t, "")
	s.subscribe("/burst", map[string]any{"events": []string{"order.*"}})
	for range orders {
		s.order()
	}
	created := time.Now()
	got := s.rcv.wait(t, "/burst", orders, 10*time.Second)
	last := got[orders-1].at
	t.Logf("%d deliveries within %s of each other, the last %s after the last order",
		orders, last.Sub(got[0].at).Round(time.Millisecond), last.Sub(created).Round(time.Millisecond))
	if late := last.Sub(created); late > time.Second {
		t.Errorf("the %d deliveries took %s after the last order; want them within 1s (100/m is far from reached)", orders, late)
	}
	if ids := eventIDs(t, got); len(ids) != orders || len(got) != orders {
		t.Errorf("received %d deliveries of %d events, want %d", len(got), len(ids), orders)
	}
}

// TestRateLimitPerSecondWindow: with rate_limit 10/s, 15 events at once:
// 10 go out at once, the other 5 wait in the queue until the first ones
// are a second old, none is lost or counted as an attempt while it waits,
// and no window of a second sees more than 10; another subscription to the
// same events (default limit) gets all 15 at once meanwhile. It stands for
// 150 events at 100/m (100 in the first minute, the rest after), tested on
// a fake clock in TestDispatcherRateLimitWindow.
func TestRateLimitPerSecondWindow(t *testing.T) {
	t.Parallel()
	const orders, limit = 15, 10
	s := startStack(t, "")
	limitedID, _ := s.subscribe("/limited-a", map[string]any{"events": []string{"order.*"}, "rate_limit": "10/s"})
	otherID, _ := s.subscribe("/other-b", map[string]any{"events": []string{"order.*"}})
	if r := s.subscription(limitedID)["rate_limit"]; r != "10/s" {
		t.Fatalf("subscription A has rate_limit %v", r)
	}
	for range orders {
		s.order()
	}
	a := s.rcv.wait(t, "/limited-a", orders, 15*time.Second)
	b := s.rcv.wait(t, "/other-b", orders, 15*time.Second)
	first := a[0].at
	for i, g := range a {
		t.Logf("A's delivery %d at +%s", i, g.at.Sub(first).Round(time.Millisecond))
	}

	// The receiver notes a delivery when it comes in; the window counts a
	// send from when its answer is read, later: no tolerance is needed
	// beyond the clock's reading.
	const slack = 5 * time.Millisecond
	if d := a[limit-1].at.Sub(first); d > 500*time.Millisecond {
		t.Errorf("A's first %d deliveries took %s; want them at once (under 0.5s)", limit, d)
	}
	if d := a[limit].at.Sub(first); d < time.Second-slack {
		t.Errorf("A's delivery %d came %s after the first; want at least 1s (10/s)", limit+1, d)
	}
	for i := 0; i+limit < len(a); i++ {
		if d := a[i+limit].at.Sub(a[i].at); d < time.Second-slack {
			t.Errorf("A received deliveries %d to %d within %s: more than %d a second", i, i+limit, d, limit)
		}
	}
	if d := a[orders-1].at.Sub(first); d > 3*time.Second {
		t.Errorf("A's last delivery came %s after the first; want it soon after the window (1s)", d)
	}
	// B is not held back by A's limit.
	if !b[orders-1].at.Before(a[limit].at) {
		t.Errorf("B's last delivery came at +%s, after A's delivery %d (+%s): held back by A's limit",
			b[orders-1].at.Sub(first), limit+1, a[limit].at.Sub(first))
	}

	aIDs, bIDs := eventIDs(t, a), eventIDs(t, b)
	if len(aIDs) != orders || !slices.Equal(aIDs, bIDs) {
		t.Errorf("A received %d distinct events, B %d; want the same %d:\nA %v\nB %v", len(aIDs), len(bIDs), orders, aIDs, bIDs)
	}
	for i, g := range a {
		if n := g.header.Get("X-Webhook-Attempt"); n != "1" {
			t.Errorf("A's delivery %d carried X-Webhook-Attempt %s; waiting for the rate is not an attempt", i, n)
		}
	}
	// The admin API: each of A's deliveries succeeded on its one attempt
	// (a duplicate send would show as a second one).
	var dl []delivery
	testbed.Eventually(t, 10*time.Second, "A's deliveries succeeded", func() bool {
		dl = s.deliveries(limitedID, "succeeded")
		return len(dl) == orders
	})
	for _, d := range dl {
		if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 {
			t.Errorf("A's delivery %s (event %s): %d attempts %+v; want exactly one, 200", d.ID, d.EventID, len(d.Attempts), d.Attempts)
		}
	}
	if all := s.deliveries(limitedID, ""); len(all) != orders {
		t.Errorf("A has %d deliveries in all, want %d", len(all), orders)
	}
	testbed.Eventually(t, 10*time.Second, "B's deliveries succeeded", func() bool {
		return len(s.deliveries(otherID, "succeeded")) == orders
	})
}

// eventIDs returns the sorted distinct envelope ids of the received
// deliveries.
func eventIDs(t *testing.T, got []request) []string {
	t.Helper()
	var ids []string
	for _, g := range got {
		id, _, _, _ := readEnvelope(t, g.body)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
