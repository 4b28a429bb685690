package storagetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkClaimLease: a claimed delivery is due again when its lease runs
// out, not before; then it is claimed again (at least once delivery).
func checkClaimLease(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	commit(t, s, events("order.created", 3))
	t1 := clock()
	first, next := claim(t, s, t1, 10, wantEach(10, sub)...)
	if len(first) != 3 {
		t.Fatalf("claimed %d of 3 due deliveries", len(first))
	}
	if !next.IsZero() && !next.Equal(t1.Add(lease)) { // the leases may not be among what it looked at
		t.Errorf("next due after claiming every delivery = %v, want the leases' end %v or none", next, t1.Add(lease))
	}
	for _, c := range first {
		if d := delivery(t, s, c.Delivery.ID); d.Status != webhook.Pending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(t1.Add(lease)) {
			t.Errorf("claimed delivery %s: status %s due %v, want pending and due at the lease's end %v", d.ID, d.Status, d.NextAttemptAt, t1.Add(lease))
		}
	}
	for _, at := range []time.Time{t1, t1.Add(time.Second), t1.Add(lease - time.Millisecond)} {
		if again, _ := claim(t, s, at, 10, wantEach(10, sub)...); len(again) != 0 {
			t.Errorf("at %v, %v into the lease, claimed %v again", at, at.Sub(t1), deliveryIDs(again))
		}
	}
	again, _ := claim(t, s, t1.Add(lease+time.Second), 10, wantEach(10, sub)...)
	if !slices.Equal(deliveryIDs(again), deliveryIDs(first)) {
		t.Errorf("once the lease ran out, claimed %v, want %v again", deliveryIDs(again), deliveryIDs(first))
	}
}

// checkClaimExclusive: workers claiming at once never get the same
// delivery; together they get every due one.
func checkClaimExclusive(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	commit(t, s, events("order.created", 12))
	now := clock()
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				claims, _, err := s.Claim(context.Background(), now, lease, 2, wantEach(2, sub))
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(claims) == 0 {
					return
				}
				mu.Lock()
				got = append(got, deliveryIDs(claims)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if distinct := len(slices.Compact(slices.Clone(got))); len(got) != 12 || distinct != 12 {
		t.Errorf("4 workers claimed %d deliveries (%d distinct), want each of the 12 once", len(got), distinct)
	}
}

// checkClaimWhileCommitting: claims made while commits go on miss no
// delivery: by the time the commits are done, every delivery has been
// claimed once, or is claimed by the next claim.
func checkClaimWhileCommitting(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	const n = 40
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for i := range n {
			d := webhook.Sync
			if i%4 == 3 {
				d = webhook.Async
			}
			configure(s, d, func(_ []webhook.Event, err error) { t.Errorf("async Commit: %v", err) })
			if err := s.Commit(context.Background(), events("order.created", 1), nil); err != nil {
				t.Errorf("Commit: %v", err)
				return
			}
		}
	}()
	seen := map[string]int{}
	take := func() int {
		claims, _ := claim(t, s, clock(), 3, wantEach(3, sub)...)
		for _, c := range claims {
			seen[c.Delivery.ID]++
		}
		return len(claims)
	}
	for done := false; !done; {
		select {
		case <-committed:
			done = true
		default:
			take()
		}
	}
	eventually(t, "the async commits", func() bool { return s.QueueDepth() == n })
	for take() > 0 { // until nothing is left due
	}
	for id, times := range seen {
		if times != 1 {
			t.Errorf("delivery %s claimed %d times under one lease", id, times)
		}
	}
	if len(seen) != n {
		t.Errorf("claiming while %d events were committed got %d deliveries, then none: %d missed", n, len(seen), n-len(seen))
	}
}

// checkClaimBudgets: each want gets at most its Max, all of them at most
// the budget, in the order asked; the next due time is the earliest
// future one (leases count only if the store looked at them).
func checkClaimBudgets(t testing.TB, s storage.Store) {
	a, b, c := newSub("*"), newSub("*"), newSub("*")
	put(t, s, a, b, c)
	commit(t, s, events("order.created", 5))
	wants := []webhook.Want{{SubID: a.ID, Max: 3}, {SubID: b.ID, Max: 10}, {SubID: c.ID, Max: 10}}
	t1 := clock()
	claims, _ := claim(t, s, t1, 7, wants...)
	if got := perSub(claims); len(claims) != 7 || got[a.ID] != 3 || got[b.ID] != 4 || got[c.ID] != 0 {
		t.Errorf("budget 7, wants a:3 b:10 c:10 claimed a:%d b:%d c:%d, want a:3 (its Max) b:4 (the rest of the budget) c:0",
			got[a.ID], got[b.ID], got[c.ID])
	}

	t2 := t1.Add(time.Second)
	claims, next := claim(t, s, t2, 100, wantEach(10, a, b, c)...)
	if got := perSub(claims); len(claims) != 8 || got[a.ID] != 2 || got[b.ID] != 1 || got[c.ID] != 5 {
		t.Errorf("second claim took a:%d b:%d c:%d, want the rest: a:2 b:1 c:5", got[a.ID], got[b.ID], got[c.ID])
	}
	if !next.IsZero() && !next.Equal(t1.Add(lease)) {
		t.Errorf("next due = %v, want the first leases' end %v (not the second's, %v) or none", next, t1.Add(lease), t2.Add(lease))
	}

	// A retry scheduled before every lease ends is the next due.
	retryAt := t1.Add(10 * time.Second)
	update(t, s, claims[len(claims)-1].Delivery.ID, func(d *webhook.Delivery) { d.NextAttemptAt = &retryAt })
	none, next := claim(t, s, t1.Add(2*time.Second), 100, wantEach(10, a, b, c)...)
	if len(none) != 0 || !next.Equal(retryAt) {
		t.Errorf("before the retry: claimed %d, next %v; want none, next %v", len(none), next, retryAt)
	}
}

// checkRetryAtDueTime: a delivery rescheduled by UpdateDelivery is not
// claimed before its new due time, and is at it, with what was recorded.
func checkRetryAtDueTime(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	commit(t, s, events("order.created", 1))
	t1 := clock()
	claims, _ := claim(t, s, t1, 10, wantEach(10, sub)...)
	if len(claims) != 1 {
		t.Fatalf("claimed %d of 1", len(claims))
	}
	id := claims[0].Delivery.ID
	retryAt := t1.Add(30 * time.Second)
	got := update(t, s, id, func(d *webhook.Delivery) {
		d.Attempts = append(d.Attempts, webhook.Attempt{N: 1, At: t1, StatusCode: 503, DurationMs: 12, Error: "HTTP 503"})
		d.NextAttemptAt, d.UpdatedAt = &retryAt, t1
	})
	if len(got.Attempts) != 1 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(retryAt) {
		t.Errorf("UpdateDelivery returned %+v, want the update applied", got)
	}
	if d := delivery(t, s, id); len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 503 || !d.NextAttemptAt.Equal(retryAt) {
		t.Errorf("Delivery after the update: %+v", d)
	}
	for _, at := range []time.Time{t1.Add(time.Second), retryAt.Add(-time.Millisecond)} {
		if early, next := claim(t, s, at, 10, wantEach(10, sub)...); len(early) != 0 || !next.Equal(retryAt) {
			t.Errorf("at %v, before the retry: claimed %d, next %v; want none, next %v", at.Sub(t1), len(early), next, retryAt)
		}
	}
	claims, _ = claim(t, s, retryAt, 10, wantEach(10, sub)...)
	if len(claims) != 1 || claims[0].Delivery.ID != id || len(claims[0].Delivery.Attempts) != 1 {
		t.Fatalf("at the retry's due time claimed %v, want %s with its attempt", deliveryIDs(claims), id)
	}

	if _, err := s.UpdateDelivery(context.Background(), "dlv_unknown", func(*webhook.Delivery) error { return nil }); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("UpdateDelivery of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := s.Delivery(context.Background(), "dlv_unknown"); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("Delivery of an unknown id: %v, want ErrNotFound", err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateDelivery(context.Background(), id, func(d *webhook.Delivery) error { d.Status = webhook.Failed; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateDelivery whose fn fails: %v, want its error", err)
	}
	if d := delivery(t, s, id); d.Status != webhook.Pending {
		t.Errorf("an update whose fn failed was stored: status %s", d.Status)
	}
}

// checkUpdateDeliveryConcurrent: concurrent updates of a delivery all
// land, each once (fn runs again on the fresh record after a conflict).
func checkUpdateDeliveryConcurrent(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	commit(t, s, events("order.created", 1))
	claims, _ := claim(t, s, clock(), 1, wantEach(1, sub)...)
	if len(claims) != 1 {
		t.Fatalf("claimed %d of 1", len(claims))
	}
	id := claims[0].Delivery.ID
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := s.UpdateDelivery(context.Background(), id, func(d *webhook.Delivery) error {
				d.Attempts = append(d.Attempts, webhook.Attempt{N: i + 1, At: time.Now().UTC()})
				return nil
			})
			if err != nil {
				t.Errorf("UpdateDelivery: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	d := delivery(t, s, id)
	seen := map[int]int{}
	for _, a := range d.Attempts {
		seen[a.N]++
	}
	if len(d.Attempts) != n || len(seen) != n {
		t.Errorf("%d concurrent updates each adding an attempt left %d attempts (%d distinct), want %d", n, len(d.Attempts), len(seen), n)
	}
}

// checkDeadLetterAndRedeliver: finished deliveries (failed: a dead letter;
// succeeded) are never claimed; a redelivery, as the admin route makes
// it, is claimed again with its attempts kept.
func checkDeadLetterAndRedeliver(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	commit(t, s, events("order.created", 2))
	t1 := clock()
	claims, _ := claim(t, s, t1, 10, wantEach(10, sub)...)
	if len(claims) != 2 {
		t.Fatalf("claimed %d of 2", len(claims))
	}
	dead, done := claims[0].Delivery.ID, claims[1].Delivery.ID
	finish := func(id, status string) {
		update(t, s, id, func(d *webhook.Delivery) {
			d.Attempts = append(d.Attempts, webhook.Attempt{N: len(d.Attempts) + 1, At: t1, StatusCode: 500})
			d.Status, d.NextAttemptAt, d.UpdatedAt = status, nil, t1
		})
	}
	finish(dead, webhook.Failed)
	finish(done, webhook.Succeeded)

	later := t1.Add(24 * time.Hour)
	if got, next := claim(t, s, later, 10, wantEach(10, sub)...); len(got) != 0 || !next.IsZero() {
		t.Errorf("with only finished deliveries: claimed %v, next %v; want none and no next", deliveryIDs(got), next)
	}
	if q := s.QueueDepth(); q != 0 {
		t.Errorf("queue depth with only finished deliveries: %d", q)
	}
	for status, id := range map[string]string{webhook.Failed: dead, webhook.Succeeded: done} {
		if ds, err := s.Deliveries(context.Background(), sub.ID, status, 10); err != nil || len(ds) != 1 || ds[0].ID != id {
			t.Errorf("Deliveries(%s) = %d, %v; want %s", status, len(ds), err, id)
		}
	}

	// admin/deliveries.go's redeliver.
	now := time.Now().UTC()
	update(t, s, dead, func(d *webhook.Delivery) {
		d.Status, d.RunStart, d.NextAttemptAt, d.UpdatedAt = webhook.Pending, len(d.Attempts), &now, now
	})
	got, _ := claim(t, s, later.Add(time.Second), 10, wantEach(10, sub)...)
	if len(got) != 1 || got[0].Delivery.ID != dead {
		t.Fatalf("after redelivering the dead letter claimed %v, want %s", deliveryIDs(got), dead)
	}
	if d := got[0].Delivery; len(d.Attempts) != 1 || d.RunStart != 1 || d.TriesInRun() != 0 {
		t.Errorf("redelivered claim: %d attempts, run start %d; want the old attempt kept and a new run", len(d.Attempts), d.RunStart)
	}
}
