package badgerstore

import (
	"context"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// dueKeys counts the due index's keys: what QueueDepth must equal.
func dueKeys(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.db.View(func(txn *badger.Txn) error { n = countKeys(txn, prefixDue); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// leaseAll is a Taker that takes every delivery under a minute's lease.
type leaseAll struct{ took int }

func (l *leaseAll) Room(*webhook.Subscription, int) (time.Duration, bool) { return time.Minute, true }
func (l *leaseAll) Take(c []webhook.Claim)                                { l.took += len(c) }

// TestQueueDepthCounter: QueueDepth follows the due index exactly through
// every write that adds or removes due keys (commits, hand-offs, claims,
// results, redeliveries, replays, deletes, sweeps), is counted again at
// Open, and answers from its counter without reading the store.
func TestQueueDepthCounter(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.Configure(storage.Settings{Retention: time.Hour})
	ctx := context.Background()
	check := func(step string, want int64) {
		t.Helper()
		if got, keys := s.QueueDepth(), dueKeys(t, s); got != want || keys != want {
			t.Fatalf("after %s: QueueDepth %d, due keys %d; want %d", step, got, keys, want)
		}
	}
	check("open", 0)
	a, b := activeSub("sub_a"), activeSub("sub_b")
	evs := queueBacklog(t, s, a, 0)
	evs = append(evs, queueBacklog(t, s, b, 6)...) // 6 each
	check("commits", 12)

	taker := &leaseAll{}
	s.SetTaker(taker)
	evs = append(evs, queueBacklog(t, s, b, 1)...)
	s.SetTaker(nil)
	if taker.took != 2 {
		t.Fatalf("handed %d, want 2", taker.took)
	}
	check("a commit handed over", 14) // leased: still pending

	claims, _, err := s.Claim(ctx, time.Now(), time.Minute, 4, []webhook.Want{{SubID: a.ID, Max: 4}})
	if err != nil || len(claims) != 4 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	check("claims (leases)", 14)

	now := time.Now().UTC()
	for i, c := range claims[:3] {
		status := []string{webhook.Succeeded, webhook.Failed, webhook.Cancelled}[i]
		if _, err := s.UpdateDelivery(ctx, c.Delivery.ID, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt, d.UpdatedAt = status, nil, now
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check("three results", 11)
	retry := now.Add(time.Hour)
	if _, err := s.UpdateDelivery(ctx, claims[3].Delivery.ID, func(d *webhook.Delivery) error { d.NextAttemptAt = &retry; return nil }); err != nil {
		t.Fatal(err)
	}
	check("a retry scheduled", 11)
	if _, err := s.UpdateDelivery(ctx, claims[0].Delivery.ID, func(d *webhook.Delivery) error {
		d.Status, d.NextAttemptAt = webhook.Pending, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("a redelivery", 12)
	if _, err := s.AddDeliveries(ctx, a, evs[:5]); err != nil {
		t.Fatal(err)
	}
	check("a replay", 17)

	// A delivery record gone under its due key: the claim drops the key.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixDelivery, claims[0].Delivery.ID)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.claimDue(ctx, time.Now(), time.Minute, 100, []scan{{SubID: a.ID, Max: 100}}); err != nil {
		t.Fatal(err)
	}
	check("a claim that dropped a lost delivery's key", 16)

	if err := s.DeleteSubscription(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	check("a delete", 16-7)
	if _, err := s.AddDeliveries(ctx, b, evs[:2]); err != nil { // a replay racing with the delete
		t.Fatal(err)
	}
	check("orphans", 11)
	if n, err := s.cancelOrphans(ctx); err != nil || n != 2 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	check("the sweep", 9)

	// The counter is what QueueDepth answers: a key written behind the
	// store's back is not seen until the next Open counts it.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(dueKey(a.ID, now, "dlv_x"), nil) }); err != nil {
		t.Fatal(err)
	}
	if got := s.QueueDepth(); got != 9 {
		t.Fatalf("QueueDepth = %d after a key written behind the store's back: it read the store, want the counter's 9", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	check("a reopen", 10)
}
