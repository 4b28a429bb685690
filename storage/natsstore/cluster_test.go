package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestNodes runs, on one three-node cluster, the tests of stores as
// several Caddy nodes use them, each on a prefix of its own.
func TestNodes(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	var n atomic.Int64
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open func() *Store)
	}{
		{"TwoNodes", testTwoNodes},
		{"CommitRetriedOnce", testCommitRetriedOnce},
		{"SnapshotChangedUnderLock", testSnapshotChangedUnderLock},
		{"LockAcrossNodes", testLockAcrossNodes},
		{"HealthTellsTheCluster", testHealthTellsTheCluster},
		{"ManySubscriptions", testManySubscriptions},
		{"EventMissing", testEventMissing},
	} {
		prefix := fmt.Sprintf("nodes%d", n.Add(1))
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, func() *Store { return openStore(t, c.URL(), prefix) }) })
	}
}

func testSub(events ...string) *webhook.Subscription {
	now := time.Now().UTC()
	return &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://r.example/hook", Events: events, IsActive: true,
		Signature: "standard", Secret: "whsec_c2VjcmV0", CreatedAt: now, UpdatedAt: now}
}

func testEvent(name string) webhook.Event {
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := webhook.NewID("evt_", at)
	return webhook.Event{ID: id, Name: name, Time: at, Data: json.RawMessage(`{"id":"` + id + `"}`)}
}

// withinTimeout is generous (what within waits for takes milliseconds)
// so that a loaded CI machine does not fail a test.
const withinTimeout = 15 * time.Second

// within waits for cond, polling.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(withinTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, withinTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testTwoNodes: what one node writes, the other sees (a subscription
// within a second, deliveries in its due index), claims are exclusive
// across nodes, and a node that opens later rebuilds its index from the
// ledger: implied deliveries and records alike, and claims what it owns.
func testTwoNodes(t *testing.T, open func() *Store) {
	a, b := open(), open()
	sub := testSub("order.*")
	if err := a.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	within(t, "B sees the subscription made through A", func() bool { return len(b.ActiveSubscriptions()) == 1 })

	evs := []webhook.Event{testEvent("order.created"), testEvent("order.paid"), testEvent("order.shipped")}
	if err := b.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	within(t, "A's due index has B's commit", func() bool { return a.QueueDepth() == 3 })

	// Both nodes claim as if each owned the subscription (as two nodes
	// may for a moment at a handover): the compare-and-set keeps each
	// delivery to one of them.
	everyOwns := func(context.Context, string) bool { return true }
	a.owns, b.owns = everyOwns, everyOwns
	now := time.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for {
				claims, _, err := s.Claim(context.Background(), now, time.Minute, 1, []webhook.Want{{SubID: sub.ID, Max: 1}})
				if err != nil {
					t.Error(err)
					return
				}
				if len(claims) == 0 {
					return
				}
				mu.Lock()
				seen[claims[0].Delivery.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 3 {
		t.Errorf("two nodes claimed %d distinct deliveries, want 3", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times by the two nodes", id, n)
		}
	}

	// One more event, not claimed: the third node, alone once the others
	// stop (so it owns the subscription), finds both kinds.
	if err := a.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil); err != nil {
		t.Fatal(err)
	}
	_, _ = a.Close(), b.Close()
	c := open()
	if c.QueueDepth() != 4 {
		t.Errorf("a node opened later counts %d pending deliveries, want 4 (3 claimed, 1 implied)", c.QueueDepth())
	}
	claims, next, err := c.Claim(context.Background(), now, time.Minute, 10, []webhook.Want{{SubID: sub.ID, Max: 10}})
	if err != nil || len(claims) != 1 || !next.Equal(now.Add(time.Minute)) {
		t.Errorf("the later node claimed %d (next %v, %v); want the one not claimed, the others due at the lease's end", len(claims), next, err)
	}
}

// testCommitRetriedOnce: a commit sent again with the same events (a
// retry after a lost acknowledgement) stores them once: the batch is
// refused as a duplicate, which is the earlier try's success.
func testCommitRetriedOnce(t *testing.T, open func() *Store) {
	s := open()
	sub := testSub("*")
	if err := s.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	evs := []webhook.Event{testEvent("order.created")}
	for range 2 {
		if err := s.Commit(context.Background(), evs, nil); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	var n int
	if err := s.EventsSince(context.Background(), evs[0].Time, func(webhook.Event) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("after a retried commit: %d events stored (%v), want 1", n, err)
	}
	if q := s.QueueDepth(); q != 1 {
		t.Errorf("after a retried commit: %d deliveries pending, want 1", q)
	}
}

// testSnapshotChangedUnderLock: a node that read a resource's state under
// its lock does not overwrite a write made meanwhile by another node
// (whose lock it held too long, say): its commit fails whole, and the
// state keeps the other node's write.
func testSnapshotChangedUnderLock(t *testing.T, open func() *Store) {
	a, b := open(), open()
	ctx := context.Background()
	unlock, err := a.LockKeys(ctx, []string{"order:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if v, err := a.Snapshot(ctx, "order:1"); err != nil || v != nil {
		t.Fatalf("Snapshot = %q, %v", v, err)
	}
	if err := b.Commit(ctx, nil, []webhook.Snapshot{{Key: "order:1", Value: []byte(`"B"`)}}); err != nil {
		t.Fatal(err)
	}
	ev := testEvent("order.paid")
	err = a.Commit(ctx, []webhook.Event{ev}, []webhook.Snapshot{{Key: "order:1", Value: []byte(`"A"`)}})
	if !errors.Is(err, errConflict) {
		t.Errorf("commit over a state changed since it was read: %v, want a conflict", err)
	}
	if v, _ := a.Snapshot(ctx, "order:1"); string(v) != `"B"` {
		t.Errorf("state after the refused commit: %s, want B's", v)
	}
	var ids []string
	_ = a.EventsSince(ctx, ev.Time, func(e webhook.Event) error { ids = append(ids, e.ID); return nil })
	if slices.Contains(ids, ev.ID) {
		t.Error("the refused commit's event was stored")
	}
}

// testLockAcrossNodes: a key locked through one node waits on the other
// until it is let go.
func testLockAcrossNodes(t *testing.T, open func() *Store) {
	a, b := open(), open()
	unlock, err := a.LockKeys(context.Background(), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if u, err := b.LockKeys(ctx, []string{"k"}); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			u()
		}
		t.Fatalf("B took a key that A holds: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.LockKeys(context.Background(), []string{"k"})
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B did not get the key once A let it go")
	}
}

// testHealthTellsTheCluster: a store's health names its backend and says
// what the node sees of the cluster, not a disk.
func testHealthTellsTheCluster(t *testing.T, open func() *Store) {
	h := open().Health()
	if h.Status != "ok" || h.Backend != "nats" || h.DiskSpace != nil || h.Cluster == nil {
		t.Fatalf("health %+v: want ok, backend nats, the cluster and no disk", h)
	}
	c := h.Cluster
	if !c.Connected || c.Name != "testbed" || c.Replicas != 3 || len(c.Servers) != 3 || !slices.Contains(c.Servers, c.Server) || c.RTTMillis <= 0 {
		t.Errorf("cluster %+v: want connected to one of the 3 servers of testbed, 3 replicas, a round trip", c)
	}
	if c.SyncAlways != nil {
		t.Errorf("sync_always %v, want unknown: the test account cannot ask the servers", *c.SyncAlways)
	}
}

// TestClusterViewSync: the servers' fsync setting, as the check at start
// reports it.
func TestClusterViewSync(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		r    syncReport
		err  error
		want *bool
	}{
		{"all always", syncReport{Always: []string{"n1", "n2", "n3"}}, nil, &yes},
		{"one not", syncReport{Always: []string{"n1", "n2"}, Not: []string{"n3"}}, nil, &no},
		{"no answer", syncReport{}, nil, nil},
		{"error", syncReport{Always: []string{"n1"}}, errors.New("no"), nil},
	} {
		var v clusterView
		v.last.Store(&webhook.ClusterHealth{})
		v.noteSync(tc.r, tc.err)
		if got := v.get().SyncAlways; (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: sync_always %v, want %v", tc.name, got, tc.want)
		}
	}
}

// testManySubscriptions: 500 subscriptions on two nodes, with no JetStream
// object of their own: both nodes see them all, an event fans out to each,
// the nodes share them (each claims those it owns), and every delivery is
// claimed once.
func testManySubscriptions(t *testing.T, open func() *Store) {
	const n = 500
	a, b := open(), open()
	for range n {
		if err := a.PutSubscription(context.Background(), testSub("order.*")); err != nil {
			t.Fatal(err)
		}
	}
	within(t, "B sees the 500 subscriptions", func() bool { return len(b.ActiveSubscriptions()) == n })
	if err := b.Commit(context.Background(), []webhook.Event{testEvent("order.created"), testEvent("order.paid")}, nil); err != nil {
		t.Fatal(err)
	}
	within(t, "both due indexes hold the 1,000 deliveries", func() bool { return a.QueueDepth() == 2*n && b.QueueDepth() == 2*n })
	wants := make([]webhook.Want, 0, n)
	for _, sub := range a.ActiveSubscriptions() {
		wants = append(wants, webhook.Want{SubID: sub.ID, Max: 2})
	}
	now := time.Now().Add(time.Second)
	seen := map[string]int{}
	bySub := map[*Store]map[string]bool{a: {}, b: {}}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 2*n && time.Now().Before(deadline) {
		for _, s := range []*Store{a, b} {
			claims, _, err := s.Claim(context.Background(), now, time.Minute, 200, wants)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range claims {
				seen[c.Delivery.ID]++
				bySub[s][c.Sub.ID] = true
			}
		}
	}
	if len(seen) != 2*n {
		t.Fatalf("claimed %d distinct deliveries of %d", len(seen), 2*n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %s claimed %d times", id, k)
		}
	}
	for sub := range bySub[a] {
		if bySub[b][sub] {
			t.Errorf("subscription %s sent by both nodes", sub)
		}
	}
	if len(bySub[a]) < n/4 || len(bySub[b]) < n/4 {
		t.Errorf("the nodes own %d and %d of %d subscriptions: want them shared", len(bySub[a]), len(bySub[b]), n)
	}
}

// testEventMissing: a claim that cannot find a delivery's event (gone
// from the ledger and from this node's recent commits) a moment after the
// event was stored keeps the delivery pending and due again after as long
// as the event's age, each time it is claimed, also when this node has
// written the delivery before (its next write expects the revision it
// wrote last); once the event is older than missingEventWait, the claim
// cancels the delivery.
func testEventMissing(t *testing.T, open func() *Store) {
	ctx := context.Background()
	s := open()
	s.Configure(storage.Settings{Retention: time.Hour, Durability: webhook.Sync})
	sub := testSub("*")
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	ev := testEvent("order.created")
	if err := s.Commit(ctx, []webhook.Event{ev}, nil); err != nil {
		t.Fatal(err)
	}
	claim := func(now time.Time) []webhook.Claim {
		t.Helper()
		claims, _, err := s.Claim(ctx, now, time.Minute, 10, []webhook.Want{{SubID: sub.ID, Max: 10}})
		if err != nil {
			t.Fatal(err)
		}
		return claims
	}
	only := func(status string) *webhook.Delivery {
		t.Helper()
		ds, err := s.Deliveries(ctx, sub.ID, status, 10)
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s deliveries %v (%v), want one", status, ds, err)
		}
		return ds[0]
	}
	// A first attempt that failed: this node wrote the claim and the result.
	now := time.Now()
	got := claim(now)
	if len(got) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(got))
	}
	now = now.Add(10 * time.Second)
	if _, err := s.UpdateDelivery(ctx, got[0].Delivery.ID, func(d *webhook.Delivery) error {
		d.NextAttemptAt = &now
		d.Attempts = append(d.Attempts, webhook.Attempt{N: 1, At: now, Error: "connection refused"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := s.ledger.Purge(ctx, jetstream.WithPurgeSubject(s.subject(eventKey(ev.ID)))); err != nil {
		t.Fatal(err)
	}
	s.recent.mu.Lock()
	delete(s.recent.events, ev.ID)
	s.recent.mu.Unlock()
	for range 2 {
		if got := claim(now); len(got) != 0 {
			t.Fatalf("claimed %d deliveries of a missing event", len(got))
		}
		// Due again after as long as the event's age (1 s to 30 s).
		wait := min(max(now.Sub(ev.Time), time.Second), missingEventRetry)
		within(t, "the delivery due again later", func() bool {
			d := only(webhook.Pending)
			return d.NextAttemptAt != nil && d.NextAttemptAt.After(now)
		})
		if due := *only(webhook.Pending).NextAttemptAt; due.Sub(now) < wait-time.Millisecond || due.Sub(now) > wait+time.Millisecond {
			t.Errorf("due again %v after the claim, want %v (the event's age)", due.Sub(now), wait)
		}
		now = *only(webhook.Pending).NextAttemptAt
	}
	if got := claim(ev.Time.Add(missingEventWait)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries of a missing event", len(got))
	}
	within(t, "the delivery of a missing event cancelled", func() bool {
		ds, err := s.Deliveries(ctx, sub.ID, webhook.Cancelled, 10)
		return err == nil && len(ds) == 1
	})
}
