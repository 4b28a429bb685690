package badgerstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// backlogSize is more deliveries than one Badger transaction may cancel
// (about 4,000 with 8 MiB memtables).
const backlogSize = 10_000

// queueBacklog commits n events that sub (active) receives, in commits of
// 500, and returns them.
func queueBacklog(t *testing.T, s *Store, sub *webhook.Subscription, n int) []webhook.Event {
	t.Helper()
	if err := s.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	var all []webhook.Event
	now := time.Now()
	for len(all) < n {
		evs := make([]webhook.Event, min(500, n-len(all)))
		for i := range evs {
			evs[i] = webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{"n":1}`)}
		}
		if err := s.Commit(context.Background(), evs, nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	return all
}

func activeSub(id string) *webhook.Subscription {
	return &webhook.Subscription{ID: id, URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard", CreatedAt: time.Now()}
}

// countStatus counts sub's deliveries of one status.
func countStatus(t *testing.T, s *Store, subID, status string) int {
	t.Helper()
	list, err := s.Deliveries(context.Background(), subID, status, 10*backlogSize)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestDeleteSubscriptionWithBacklog: a subscription with more pending
// deliveries than one transaction holds is deleted without error, every
// delivery is cancelled, none is claimed afterwards, and another
// subscription's deliveries are left alone.
func TestDeleteSubscriptionWithBacklog(t *testing.T) {
	s := openTest(t)
	gone, live := activeSub("sub_gone"), activeSub("sub_live")
	queueBacklog(t, s, gone, backlogSize)
	queueBacklog(t, s, live, 3) // the 3 events go to both
	if err := s.DeleteSubscription(context.Background(), gone.ID); err != nil {
		t.Fatalf("DeleteSubscription with %d pending: %v", backlogSize+3, err)
	}
	if _, err := s.Subscription(context.Background(), gone.ID); err == nil {
		t.Fatal("the subscription is still there")
	}
	if n := countStatus(t, s, gone.ID, webhook.Pending); n != 0 {
		t.Errorf("%d deliveries still pending, want 0", n)
	}
	if n := countStatus(t, s, gone.ID, webhook.Cancelled); n != backlogSize+3 {
		t.Errorf("%d deliveries cancelled, want %d", n, backlogSize+3)
	}
	if n := countStatus(t, s, live.ID, webhook.Pending); n != 3 {
		t.Errorf("the other subscription has %d pending, want 3", n)
	}
	wants := []webhook.Want{{SubID: gone.ID, Max: backlogSize}, {SubID: live.ID, Max: backlogSize}}
	claims, _, err := s.Claim(context.Background(), time.Now(), time.Minute, 2*backlogSize, wants)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if c.Sub.ID != live.ID {
			t.Fatalf("claimed a delivery of the deleted subscription: %+v", c.Delivery)
		}
	}
	if len(claims) != 3 {
		t.Errorf("claimed %d, want the other subscription's 3", len(claims))
	}
}

// TestOrphanBacklog: the deliveries of a subscription whose record is gone
// but whose deliveries are not cancelled yet (a delete stopped half-way by
// a crash) are not claimed but cancelled by a claim that finds them, and
// the sweep cancels a backlog of them larger than one transaction holds.
func TestOrphanBacklog(t *testing.T) {
	s := openTest(t)
	gone, live := activeSub("sub_gone"), activeSub("sub_live")
	queueBacklog(t, s, gone, backlogSize)
	queueBacklog(t, s, live, 3)
	// Delete the record alone, behind the store's back.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixSubscription, gone.ID)) }); err != nil {
		t.Fatal(err)
	}
	if err := s.refreshSubscriptions(); err != nil {
		t.Fatal(err)
	}
	scans := []scan{{SubID: gone.ID, Max: 10}}
	claims, err := s.claimDue(context.Background(), time.Now(), time.Minute, 10, scans)
	if err != nil || len(claims) != 0 {
		t.Fatalf("claim of an orphan backlog = %d claims, %v; want none", len(claims), err)
	}
	if n := countStatus(t, s, gone.ID, webhook.Cancelled); n != 10 {
		t.Fatalf("the claim cancelled %d, want the 10 it found", n)
	}
	n, err := s.cancelOrphans(context.Background())
	if err != nil || n != backlogSize+3-10 {
		t.Fatalf("cancelOrphans = %d, %v; want %d", n, err, backlogSize+3-10)
	}
	if n := countStatus(t, s, gone.ID, webhook.Pending); n != 0 {
		t.Errorf("%d orphans still pending", n)
	}
	if n := countStatus(t, s, live.ID, webhook.Pending); n != 3 {
		t.Errorf("the live subscription has %d pending, want 3", n)
	}
	if n, err := s.cancelOrphans(context.Background()); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want nothing left", n, err)
	}
}

// TestFindOrphansPages: the sweep's batches resume where the last one
// stopped, across subscriptions, live ones skipped.
func TestFindOrphansPages(t *testing.T) {
	s := openTest(t)
	for _, id := range []string{"sub_a", "sub_b", "sub_c"} {
		queueBacklog(t, s, activeSub(id), 0)
	}
	queueBacklog(t, s, activeSub("sub_d"), 5) // 5 each for a, b, c and d
	for _, id := range []string{"sub_a", "sub_c"} {
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixSubscription, id)) }); err != nil {
			t.Fatal(err)
		}
	}
	var pages []string
	var from []byte
	for {
		var found []dueEntry
		var next []byte
		err := s.db.View(func(txn *badger.Txn) (err error) {
			found, next, err = findOrphans(txn, from, 4)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		page := ""
		for _, e := range found {
			page += string(e.key[len(prefixDue) : len(prefixDue)+5])
		}
		pages = append(pages, page)
		if next == nil {
			break
		}
		from = next
	}
	want := []string{"sub_asub_asub_asub_a", "sub_asub_csub_csub_c", "sub_csub_c"}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages %q, want %q", pages, want)
	}
}
