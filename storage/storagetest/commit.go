package storagetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkCommitFanOut: one commit of several events and snapshots stores the
// events, a pending delivery of each to every active subscription that
// wants it (event patterns, site filter), and the snapshots.
func checkCommitFanOut(t testing.TB, s storage.Store) {
	orders := newSub("order.*")
	site1 := newSub("order.created")
	site1.Filters.SiteIDs = []string{"s1"}
	paused := newSub("*")
	paused.IsActive = false
	customers := newSub("customer.*")
	// A filter over the envelope: only the events of site s1.
	filtered := newSub("order.*")
	filtered.Filter = `site == "s1"`
	put(t, s, orders, site1, paused, customers, filtered)

	now := time.Now()
	evs := []webhook.Event{
		newEvent("order.created", "s1", now.Add(-3*time.Millisecond)),
		newEvent("order.created", "s2", now.Add(-2*time.Millisecond)),
		newEvent("order.paid", "s1", now.Add(-time.Millisecond)),
		newEvent("customer.created", "", now),
	}
	evs[3].UserID = json.RawMessage(`"u7"`)
	// A shadow event is stored and read back, marked, and goes to no one.
	shadow := newEvent("order.created", "s1", now.Add(time.Millisecond))
	shadow.Shadow = true
	evs = append(evs, shadow)
	snaps := []webhook.Snapshot{{Key: "order:1", Value: []byte(`{"status":"paid"}`)}, {Key: "customer:7", Value: []byte(`{"email":"a@b.example"}`)}}
	commit(t, s, evs, snaps...)

	var got []webhook.Event
	if err := s.EventsSince(context.Background(), evs[0].Time, func(ev webhook.Event) error { got = append(got, ev); return nil }); err != nil {
		t.Fatalf("EventsSince: %v", err)
	}
	if diff := sameJSON(got, evs); diff != "" {
		t.Errorf("events read back differ from those committed:\n%s", diff)
	}

	wantFor := map[*webhook.Subscription][]webhook.Event{orders: evs[:3], site1: evs[:1], paused: nil, customers: evs[3:4],
		filtered: {evs[0], evs[2]}}
	for sub, want := range wantFor {
		ds, err := s.Deliveries(context.Background(), sub.ID, "", 100)
		if err != nil {
			t.Fatalf("Deliveries(%s): %v", sub.ID, err)
		}
		var gotIDs []string
		for _, d := range ds {
			gotIDs = append(gotIDs, d.EventID)
			if d.Status != webhook.Pending || d.NextAttemptAt == nil || d.SubscriptionID != sub.ID || len(d.Attempts) != 0 || d.ID == "" {
				t.Errorf("new delivery %+v: want pending, due, of %s, no attempts", d, sub.ID)
			}
		}
		slices.Sort(gotIDs)
		if wantIDs := idsOf(want); !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("subscription to %v (sites %v, active %v) got deliveries of %v, want %v", sub.Events, sub.Filters.SiteIDs, sub.IsActive, gotIDs, wantIDs)
		}
	}

	claims, _ := claim(t, s, clock(), 100, wantEach(10, orders, site1, paused, customers, filtered)...)
	if len(claims) != 7 {
		t.Errorf("claimed %d deliveries after the commit, want 7", len(claims))
	}
	for _, c := range claims {
		if c.Event == nil || c.Sub == nil || c.Event.ID != c.Delivery.EventID || c.Sub.ID != c.Delivery.SubscriptionID || c.Delivery.Event != c.Event.Name {
			t.Errorf("claim %+v does not carry its delivery's event and subscription", c)
			continue
		}
		if i := slices.IndexFunc(evs, func(e webhook.Event) bool { return e.ID == c.Event.ID }); i < 0 || sameJSON(c.Event, evs[i]) != "" {
			t.Errorf("claimed event %+v is not one committed", c.Event)
		}
	}

	for _, sn := range snaps {
		if v, err := s.Snapshot(context.Background(), sn.Key); err != nil || string(v) != string(sn.Value) {
			t.Errorf("Snapshot(%s) = %q, %v; want %q", sn.Key, v, err, sn.Value)
		}
	}
	if err := s.Commit(context.Background(), nil, nil); err != nil {
		t.Errorf("an empty Commit: %v", err)
	}
}

// checkCommitAtomic: a commit that fails stores none of its events,
// deliveries or snapshots. The last event's data is not JSON, which a
// store that encodes events as JSON refuses; a store that takes it must
// then store the whole commit.
func checkCommitAtomic(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	evs := events("order.created", 3)
	evs[2].Data = json.RawMessage(`{"total":`)
	snap := webhook.Snapshot{Key: "order:1", Value: []byte(`{"status":"new"}`)}
	err := s.Commit(context.Background(), evs, []webhook.Snapshot{snap})

	stored := eventIDs(t, s, evs[0].Time)
	v, rerr := s.Snapshot(context.Background(), snap.Key)
	if rerr != nil {
		t.Fatalf("Snapshot: %v", rerr)
	}
	ds, derr := s.Deliveries(context.Background(), sub.ID, "", 10)
	if derr != nil {
		t.Fatalf("Deliveries: %v", derr)
	}
	if err != nil {
		if len(stored) != 0 || v != nil || len(ds) != 0 || s.QueueDepth() != 0 {
			t.Errorf("a commit that failed (%v) left %d of its 3 events, snapshot %q and %d deliveries: want none", err, len(stored), v, len(ds))
		}
	} else if len(stored) != 3 || string(v) != string(snap.Value) || len(ds) != 3 {
		t.Errorf("a commit that succeeded stored %d of its 3 events, snapshot %q and %d deliveries: want all", len(stored), v, len(ds))
	}

	// The store takes the next commit.
	ok := events("order.paid", 2)
	commit(t, s, ok)
	if got := eventIDs(t, s, ok[0].Time); !slices.Equal(got, idsOf(ok)) {
		t.Errorf("after a failed commit, the next stored %v, want %v", got, idsOf(ok))
	}
}

// checkDurabilitySync: with Sync, a commit is readable (events, due
// deliveries) the moment it returns.
func checkDurabilitySync(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	for i := range 5 {
		ev := newEvent("order.created", "", time.Now())
		if err := s.Commit(context.Background(), []webhook.Event{ev}, nil); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if got := eventIDs(t, s, ev.Time); !slices.Contains(got, ev.ID) {
			t.Fatalf("commit %d: event not readable when Commit returned", i)
		}
		claims, _ := claim(t, s, clock(), 10, wantEach(10, sub)...)
		if len(claims) != 1 || claims[0].Event.ID != ev.ID {
			t.Fatalf("commit %d: claimed %v when Commit returned, want its one delivery", i, deliveryIDs(claims))
		}
	}
}

// checkDurabilityAsync: with Async, a commit becomes readable soon after
// it returns, and reports no error when there is none; Settings.NotStored
// may be nil. (checkClosed sees that an async commit's error is not lost.)
func checkDurabilityAsync(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	errc := make(chan error, 10)
	configure(s, webhook.Async, func(_ []webhook.Event, err error) { errc <- err })
	evs := events("order.created", 3)
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatalf("async Commit: %v", err)
	}
	more := []webhook.Event{newEvent("order.paid", "", evs[2].Time.Add(time.Millisecond))}
	configure(s, webhook.Async, nil)
	if err := s.Commit(context.Background(), more, nil); err != nil {
		t.Fatalf("async Commit without NotStored: %v", err)
	}
	all := append(idsOf(evs), more[0].ID)
	eventually(t, "async commits readable", func() bool {
		return slices.Equal(eventIDs(t, s, evs[0].Time), all) && s.QueueDepth() == 4
	})
	claims, _ := claim(t, s, clock(), 10, wantEach(10, sub)...)
	if len(claims) != 4 {
		t.Errorf("claimed %d deliveries of async commits, want 4", len(claims))
	}
	select {
	case err := <-errc:
		t.Errorf("NotStored called for a commit that was stored: %v", err)
	default:
	}
}

// checkSnapshots: snapshots are written, overwritten and forgotten (nil
// Value) by commits, with or without events, and readable when Commit
// returns even with Async; an absent one reads as nil.
func checkSnapshots(t testing.TB, s storage.Store) {
	read := func(key string) []byte {
		t.Helper()
		v, err := s.Snapshot(context.Background(), key)
		if err != nil {
			t.Fatalf("Snapshot(%s): %v", key, err)
		}
		return v
	}
	if v := read("order:1"); v != nil {
		t.Errorf("absent snapshot = %q, want nil", v)
	}
	commit(t, s, nil, webhook.Snapshot{Key: "order:1", Value: []byte(`{"v":1}`)}, webhook.Snapshot{Key: "order:2", Value: []byte(`{"v":2}`)})
	if a, b := read("order:1"), read("order:2"); string(a) != `{"v":1}` || string(b) != `{"v":2}` {
		t.Errorf("after writing two: %q, %q", a, b)
	}
	commit(t, s, nil, webhook.Snapshot{Key: "order:1"})
	if a, b := read("order:1"), read("order:2"); a != nil || string(b) != `{"v":2}` {
		t.Errorf("after forgetting order:1: %q, %q; want nil and the other kept", a, b)
	}
	configure(s, webhook.Async, nil)
	if err := s.Commit(context.Background(), nil, []webhook.Snapshot{{Key: "order:2", Value: []byte(`{"v":3}`)}}); err != nil {
		t.Fatalf("async Commit of a snapshot: %v", err)
	}
	if b := read("order:2"); string(b) != `{"v":3}` {
		t.Errorf("snapshot of an async commit, when it returned: %q, want the new value", b)
	}
	ev := newEvent("order.paid", "", time.Now())
	if err := s.Commit(context.Background(), []webhook.Event{ev}, []webhook.Snapshot{{Key: "order:1", Value: []byte(`{"v":4}`)}}); err != nil {
		t.Fatalf("async Commit of an event and a snapshot: %v", err)
	}
	if a := read("order:1"); string(a) != `{"v":4}` {
		t.Errorf("snapshot of an async commit with events, when it returned: %q, want the new value", a)
	}
	eventually(t, "the event of an async commit with a snapshot", func() bool { return len(eventIDs(t, s, ev.Time)) == 1 })

	// Several rules of one request may remember one resource: the last
	// snapshot of a key wins, and the commit goes through (as the handler
	// makes it: the key held, its state read, then the commit).
	configure(s, webhook.Sync, nil)
	unlock := lockWithin(t, s, "order:1")
	read("order:1")
	twice := newEvent("order.shipped", "", time.Now())
	commit(t, s, []webhook.Event{twice}, webhook.Snapshot{Key: "order:1", Value: []byte(`{"v":5}`)}, webhook.Snapshot{Key: "order:2", Value: []byte(`{"v":6}`)},
		webhook.Snapshot{Key: "order:1", Value: []byte(`{"v":7}`)})
	unlock()
	if a, b := read("order:1"), read("order:2"); string(a) != `{"v":7}` || string(b) != `{"v":6}` {
		t.Errorf("after a commit with two snapshots of order:1: %q, %q; want the last, and order:2's", a, b)
	}
	if got := eventIDs(t, s, twice.Time); !slices.Contains(got, twice.ID) {
		t.Errorf("the event of a commit with two snapshots of one key is not stored: %v", got)
	}
}

// checkSnapshotKeys: any string is a state key, kept apart from every
// other (rules build keys from request values).
func checkSnapshotKeys(t testing.TB, s storage.Store) {
	keys := []string{
		"order:1", "order/1", "order.1", "order_1", "order-1", "order 1", "order:1 ", "Order:1", "order:*", "order:>",
		".order", "order.", "/order", "order//1", "order..1", "a=b&c%20d", "ordre:é€😀", "tab\there", "new\nline",
		strings.Repeat("k", 70000), strings.Repeat("k", 69999) + "j",
	}
	snaps := make([]webhook.Snapshot, len(keys))
	for i, k := range keys {
		snaps[i] = webhook.Snapshot{Key: k, Value: []byte(`"` + itoa(i) + `"`)}
	}
	commit(t, s, nil, snaps...)
	for i, k := range keys {
		if v, err := s.Snapshot(context.Background(), k); err != nil || string(v) != `"`+itoa(i)+`"` {
			t.Errorf("Snapshot(%.40q) = %s, %v; want \"%d\"", k, v, err, i)
		}
	}
}
