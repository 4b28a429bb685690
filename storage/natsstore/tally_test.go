package natsstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestCount: Count answers from the tally the ledger's watch keeps. It is
// exact across commits, claims, results, cancels, a redeliver and an
// attempt recorded on a cancelled delivery, and the same on a node opened
// later (which reads the ledger); it asks the servers nothing, whatever
// the ledger holds (the old Count read every record's headers); and
// records drop out when their retention ends (injected clock).
func TestCount(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	ctx := context.Background()
	a := openStore(t, c.URL(), "count")
	a.Configure(storage.Settings{Retention: time.Hour})
	a.owns = func(context.Context, string) bool { return true }
	all, created := testSub("order.*"), testSub("order.created")
	for _, sub := range []*webhook.Subscription{all, created} {
		if err := a.PutSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	within(t, "the subscriptions are cached", func() bool { return len(a.ActiveSubscriptions()) == 2 })
	for range 4 {
		var evs []webhook.Event
		for i := range 10 {
			evs = append(evs, testEvent(map[bool]string{true: "order.created", false: "order.paid"}[i < 8]))
		}
		if err := a.Commit(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	// 40 events: 32 created (to both), 8 paid (to all): 72 deliveries.
	now := time.Now().Add(time.Second)
	claims, _, err := a.Claim(ctx, now, time.Minute, 20, []webhook.Want{{SubID: all.ID, Max: 20}})
	if err != nil || len(claims) != 20 {
		t.Fatalf("claimed %d, %v; want 20", len(claims), err)
	}
	finish := func(id, status string) {
		t.Helper()
		if _, err := a.UpdateDelivery(ctx, id, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt = status, nil
			d.Attempts = append(d.Attempts, webhook.Attempt{N: len(d.Attempts) + 1})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, cl := range claims[:15] {
		finish(cl.Delivery.ID, map[bool]string{true: webhook.Succeeded, false: webhook.Failed}[i < 10])
	}
	pend := a.index.of(created.ID)
	for _, p := range pend[:3] {
		if err := a.cancelDelivery(ctx, p.id); err != nil {
			t.Fatal(err)
		}
	}
	finish(pend[0].id, webhook.Cancelled) // an attempt recorded after the cancel
	for _, cl := range claims[:2] {       // redelivered
		if _, err := a.UpdateDelivery(ctx, cl.Delivery.ID, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt = webhook.Pending, &now
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := webhook.Counts{Events: 40, Subscriptions: 2, Active: 2, QueueDepth: 72 - 15 - 3 + 2, Deliveries: map[string]int64{
		webhook.Pending: 72 - 15 - 3 + 2, webhook.Succeeded: 8, webhook.Failed: 5, webhook.Cancelled: 3,
	}}
	checkCounts(t, "the node that wrote", a, want)
	checkCounts(t, "read from the ledger", &scanCounter{a}, want)

	before := a.nc.Stats()
	if _, err := a.Count(ctx); err != nil {
		t.Fatal(err)
	}
	if after := a.nc.Stats(); after.OutMsgs-before.OutMsgs > 3 || after.InMsgs-before.InMsgs > 10 {
		t.Errorf("Count exchanged %d messages out, %d in with the servers, want none (a ledger of %d records)",
			after.OutMsgs-before.OutMsgs, after.InMsgs-before.InMsgs, 40+72)
	}

	b := openStore(t, c.URL(), "count")
	checkCounts(t, "a node opened later", b, want)

	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	a.index.tally.now, b.index.tally.now = later, later
	gone := webhook.Counts{Subscriptions: 2, Active: 2, QueueDepth: want.QueueDepth, Deliveries: map[string]int64{
		webhook.Pending: want.QueueDepth, webhook.Succeeded: 0, webhook.Failed: 0, webhook.Cancelled: 0,
	}}
	checkCounts(t, "past the retention", a, gone)
	checkCounts(t, "past the retention, the later node", b, gone)
}

type counter interface {
	Count(ctx context.Context) (webhook.Counts, error)
}

func checkCounts(t *testing.T, who string, s counter, want webhook.Counts) {
	t.Helper()
	got, err := s.Count(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if got.Events != want.Events || got.Subscriptions != want.Subscriptions || got.Active != want.Active || got.QueueDepth != want.QueueDepth {
		t.Errorf("%s counts %+v, want %+v", who, got, want)
	}
	for status, n := range want.Deliveries {
		if got.Deliveries[status] != n {
			t.Errorf("%s counts %d %s deliveries, want %d (%v)", who, got.Deliveries[status], status, n, got.Deliveries)
		}
	}
}

// scanCounter counts by reading the headers of every record of the ledger
// (what Count did before the tally): the reference.
type scanCounter struct{ s *Store }

func (c *scanCounter) Count(ctx context.Context) (webhook.Counts, error) {
	s := c.s
	n := webhook.Counts{Deliveries: map[string]int64{}}
	n.QueueDepth = s.index.size()
	n.Deliveries[webhook.Pending] = n.QueueDepth
	for _, sub := range s.subs.all() {
		n.Subscriptions++
		if sub.IsActive {
			n.Active++
		}
	}
	o := scanOpts{subjects: []string{s.subject("e.>"), s.subject("d.>")}, headersOnly: true}
	err := s.scan(ctx, o, func(m jetstream.Msg) error {
		h := m.Headers()
		switch {
		case isMarker(h):
		case strings.HasPrefix(s.keyOf(m.Subject()), "e."):
			n.Events++
		case h.Get(hdrStatus) != webhook.Pending:
			n.Deliveries[h.Get(hdrStatus)]++
		}
		return nil
	})
	return n, err
}

// TestTally: records count until their second of expiry; a replaced
// record is taken back once, and only if it was counted (the watch may
// never have read it); the counted sequences are trimmed below the oldest
// record alive.
func TestTally(t *testing.T) {
	clock := time.Unix(1000, 0)
	x := newTally()
	x.now = func() time.Time { return clock }
	ttl := nats.Header{hdrTTL: {"10s"}}
	exp := expiry(clock, ttl) // 1010
	x.add(kindEvent, exp, 1)
	x.add(kindSucceeded, exp, 2)
	x.add(kindFailed, 0, 300) // no retention: never expires
	x.add(kindSucceeded, expiry(clock.Add(-20*time.Second), ttl), 4)
	check := func(what string, ev, ok, failed int64) {
		t.Helper()
		if n := x.counts(); n[kindEvent] != ev || n[kindSucceeded] != ok || n[kindFailed] != failed {
			t.Errorf("%s: counts %v, want events %d, succeeded %d, failed %d", what, n, ev, ok, failed)
		}
	}
	check("added (one already expired)", 1, 1, 1)
	x.replaced(was(webhook.Succeeded, exp, 9)) // never counted
	check("a record never read replaced", 1, 1, 1)
	x.replaced(was(webhook.Succeeded, exp, 2))
	x.replaced(was(webhook.Succeeded, exp, 2))
	x.replaced(was(webhook.Failed, 0, 300))
	check("replaced, twice", 1, 0, 0)
	x.add(kindCancelled, exp+100, 130)
	clock = time.Unix(exp, 0)
	x.trimmedAt = time.Time{}
	if n := x.counts(); n[kindEvent] != 0 || n[kindCancelled] != 1 {
		t.Errorf("at the second of expiry: counts %v, want the event gone, the cancelled one counted", n)
	}
	if x.counted.base != 128 || !x.counted.has(130) {
		t.Errorf("counted sequences from %d (has 130: %v), want trimmed to 128, below the oldest alive", x.counted.base, x.counted.has(130))
	}
	if expiry(clock, nats.Header{}) != 0 || expiry(time.Unix(5, 1), nats.Header{hdrTTL: {"60"}}) != 65 {
		t.Error("expiry: no TTL is never; a TTL in plain seconds, rounded down")
	}
}
