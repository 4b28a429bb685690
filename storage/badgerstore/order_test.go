package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func keyedEvent(key string) webhook.Event {
	now := time.Now().UTC()
	return webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.updated", Time: now, OrderKey: key, Data: json.RawMessage(`{}`)}
}

// TestOrderLineInOneCommit: the events of one key in one commit (a batch's
// items, two rules on one request) stand in their line in commit order;
// only the first is handed over to the dispatcher, the others wait and
// count in the queue depth, which Open counts again the same.
func TestOrderLineInOneCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	sub := activeSub("sub_ordered")
	sub.Ordered = true
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var evs []webhook.Event
	for i := range 3 {
		id := webhook.NewID("evt_", now)
		evs = append(evs, webhook.Event{ID: id, Name: "order.created", Time: now, OrderKey: "order:1", Data: json.RawMessage(fmt.Sprint(i))})
	}
	if evs[0].ID > evs[1].ID { // the handler numbers a commit's events in order
		evs[0].ID, evs[1].ID = evs[1].ID, evs[0].ID
	}
	taker := &leaseAll{}
	s.SetTaker(taker)
	if err := s.Commit(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	s.SetTaker(nil)
	if taker.took != 1 {
		t.Errorf("handed over %d deliveries, want the first of the line only", taker.took)
	}
	if q := s.QueueDepth(); q != 3 {
		t.Errorf("queue depth %d, want 3", q)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if q := s.QueueDepth(); q != 3 {
		t.Errorf("queue depth at Open %d, want 3", q)
	}
	later := now.Add(2 * time.Minute) // past the hand-off's lease
	for i := range evs {
		claims, _, err := s.Claim(ctx, later, time.Minute, 10, []webhook.Want{{SubID: sub.ID, Max: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) != 1 || string(claims[0].Event.Data) != fmt.Sprint(i) {
			t.Fatalf("claim %d: %d claims, want event %d alone", i, len(claims), i)
		}
		if _, err := s.UpdateDelivery(ctx, claims[0].Delivery.ID, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.Succeeded, nil, later
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if q := s.QueueDepth(); q != 0 {
		t.Errorf("queue depth %d once all succeeded", q)
	}
}

// TestCommitWhileLinesMove: a commit's transaction reads the last entry of
// its order line (joinLine) while the dispatcher, recording the first's
// result, deletes it: the commit conflicts and is written again, never
// failed (8 clients × 400 events on 8 keys, 2 workers; it failed within
// 0.1 s before commitBatch tried conflicts again).
func TestCommitWhileLinesMove(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	sub := activeSub("sub_ordered")
	sub.Ordered = true
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { // the dispatcher: claims each head and records its success
			for !stop.Load() {
				claims, _, err := s.Claim(ctx, time.Now().Add(time.Hour), time.Minute, 10, []webhook.Want{{SubID: sub.ID, Max: 10}})
				if err != nil {
					t.Error(err)
					return
				}
				for _, c := range claims {
					if _, err := s.UpdateDelivery(ctx, c.Delivery.ID, func(d *webhook.Delivery) error {
						d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.Succeeded, nil, time.Now().UTC()
						return nil
					}); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	var failed atomic.Int64
	var firstMu sync.Mutex
	var first error
	var cw sync.WaitGroup
	for g := range 8 {
		cw.Go(func() {
			for i := 0; i < 400 && failed.Load() == 0; i++ {
				if err := s.Commit(ctx, []webhook.Event{keyedEvent(fmt.Sprint("order:", g))}, nil); err != nil {
					failed.Add(1)
					firstMu.Lock()
					first = err
					firstMu.Unlock()
				}
			}
		})
	}
	cw.Wait()
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("a commit failed: %v (conflict: %v)", first, errors.Is(first, badger.ErrConflict))
	}
}
