package storagetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// checkCountsAndQueueDepth: Count and QueueDepth follow the pending
// deliveries (claimed ones included) and the finished ones by status;
// Deliveries lists newest first, by status, at most limit.
func checkCountsAndQueueDepth(t testing.TB, s storage.Store) {
	orders, all, paused := newSub("order.*"), newSub("*"), newSub("*")
	paused.IsActive = false
	put(t, s, orders, all, paused)
	counts := func(events, queue, pending, succeeded, failed int64) {
		t.Helper()
		c, err := s.Count(context.Background())
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		got := []int64{c.Events, c.Subscriptions, c.Active, c.QueueDepth, c.Deliveries[webhook.Pending], c.Deliveries[webhook.Succeeded], c.Deliveries[webhook.Failed], s.QueueDepth()}
		if want := []int64{events, 3, 2, queue, pending, succeeded, failed, queue}; !slices.Equal(got, want) {
			t.Errorf("events, subscriptions, active, queue depth, pending, succeeded, failed, QueueDepth() = %v, want %v", got, want)
		}
	}
	counts(0, 0, 0, 0, 0)

	var evs []webhook.Event
	prev := time.Now()
	for i := range 3 {
		// Apart in time, so that newest first has one answer.
		for !time.Now().After(prev.Add(2 * time.Millisecond)) {
			time.Sleep(time.Millisecond)
		}
		prev = time.Now()
		ev := newEvent("order.created", "", prev)
		evs = append(evs, ev)
		commit(t, s, []webhook.Event{ev})
		counts(int64(i+1), int64(2*(i+1)), int64(2*(i+1)), 0, 0)
	}
	commit(t, s, []webhook.Event{newEvent("customer.created", "", time.Now())})
	counts(4, 7, 7, 0, 0)

	claims, _ := claim(t, s, clock(), 100, wantEach(10, orders, all)...)
	if len(claims) != 7 {
		t.Fatalf("claimed %d of 7", len(claims))
	}
	counts(4, 7, 7, 0, 0) // claimed deliveries are still pending
	for i, status := range []string{webhook.Succeeded, webhook.Failed} {
		update(t, s, claims[i].Delivery.ID, func(d *webhook.Delivery) { d.Status, d.NextAttemptAt = status, nil })
	}
	counts(4, 5, 5, 1, 1)

	ds, err := s.Deliveries(context.Background(), orders.ID, "", 2)
	if err != nil {
		t.Fatalf("Deliveries: %v", err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.EventID)
	}
	if want := []string{evs[2].ID, evs[1].ID}; !slices.Equal(got, want) {
		t.Errorf("Deliveries(limit 2) lists deliveries of %v, want the newest first: %v", got, want)
	}
	for _, status := range []string{webhook.Pending, webhook.Succeeded, webhook.Failed, webhook.Cancelled} {
		ds, err := s.Deliveries(context.Background(), all.ID, status, 100)
		if err != nil {
			t.Fatalf("Deliveries: %v", err)
		}
		for _, d := range ds {
			if d.Status != status {
				t.Errorf("Deliveries(%s) lists a delivery that is %s", status, d.Status)
			}
		}
	}
}

// checkWake: Wake receives after what makes deliveries due: a commit
// (sync or async), a redelivery, a replay.
func checkWake(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	drain := func() {
		for {
			select {
			case <-s.Wake():
			default:
				return
			}
		}
	}
	woken := func(after string) {
		t.Helper()
		select {
		case <-s.Wake():
		case <-time.After(waitFor):
			t.Errorf("no wake-up after %s", after)
		}
	}
	drain()
	commit(t, s, events("order.created", 1))
	woken("a sync commit")
	drain()
	configure(s, webhook.Async, nil)
	if err := s.Commit(context.Background(), events("order.paid", 1), nil); err != nil {
		t.Fatalf("async Commit: %v", err)
	}
	woken("an async commit")

	eventually(t, "the async commit", func() bool { return s.QueueDepth() == 2 })
	claims, _ := claim(t, s, clock(), 10, wantEach(10, sub)...)
	if len(claims) != 2 {
		t.Fatalf("claimed %d of 2", len(claims))
	}
	id := claims[0].Delivery.ID
	update(t, s, id, func(d *webhook.Delivery) { d.Status, d.NextAttemptAt = webhook.Failed, nil })
	drain()
	now := time.Now().UTC()
	update(t, s, id, func(d *webhook.Delivery) {
		d.Status, d.RunStart, d.NextAttemptAt = webhook.Pending, len(d.Attempts), &now
	})
	woken("a redelivery")

	drain()
	if _, err := s.AddDeliveries(context.Background(), sub, []webhook.Event{*claims[1].Event}); err != nil {
		t.Fatalf("AddDeliveries: %v", err)
	}
	woken("a replay")
}

// checkClosed: once closed, a store refuses work with ErrClosed (the
// handler tells a reload's closed store from a failure by it), an async
// commit included, whose error is returned or given to Settings.NotStored.
func checkClosed(t testing.TB, s storage.Store) {
	sub, evs, id := oneClaimed(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	more := events("order.paid", 1)
	ops := everyCall(context.Background(), s, sub, id, evs)
	delete(ops, "LockKeys") // keys are held in memory: closing does not stop them
	for name, op := range ops {
		if err := op(); !errors.Is(err, webhook.ErrClosed) || !errors.Is(err, webhook.ErrUnavailable) {
			t.Errorf("%s on a closed store: %v, want an error matching webhook.ErrClosed", name, err)
		}
	}

	errc := make(chan error, 1)
	configure(s, webhook.Async, func(_ []webhook.Event, err error) { errc <- err })
	err := s.Commit(context.Background(), more, nil)
	if err == nil {
		select {
		case err = <-errc:
		case <-time.After(waitFor):
		}
	}
	if !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Commit(Async) on a closed store reported %v (returned or to NotStored), want an error matching webhook.ErrClosed", err)
	}
}
