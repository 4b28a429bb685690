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

// shortRetention is the shortest retention the suite asks of a store.
const shortRetention = time.Second

// checkRetention: events, snapshots and finished deliveries written with
// a retention disappear after it; those written with none stay.
func checkRetention(t testing.TB, s storage.Store) {
	sub := newSub("*")
	put(t, s, sub)
	now := time.Now()
	short, kept := newEvent("order.created", "", now.Add(-time.Millisecond)), newEvent("order.paid", "", now)
	s.Configure(storage.Settings{Retention: shortRetention})
	if err := s.Commit(context.Background(), []webhook.Event{short}, []webhook.Snapshot{{Key: "short", Value: []byte(`1`)}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	s.Configure(storage.Settings{})
	commit(t, s, []webhook.Event{kept}, webhook.Snapshot{Key: "kept", Value: []byte(`2`)})
	claims, _ := claim(t, s, clock(), 10, wantEach(10, sub)...)
	if len(claims) != 2 {
		t.Fatalf("claimed %d of 2", len(claims))
	}
	var shortD, keptD string
	for _, c := range claims {
		retention := time.Duration(0)
		if c.Event.ID == short.ID {
			shortD, retention = c.Delivery.ID, shortRetention
		} else {
			keptD = c.Delivery.ID
		}
		s.Configure(storage.Settings{Retention: retention})
		if _, err := s.UpdateDelivery(context.Background(), c.Delivery.ID, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt = webhook.Succeeded, nil
			return nil
		}); err != nil {
			t.Fatalf("UpdateDelivery: %v", err)
		}
	}

	since := short.Time.Add(-time.Second)
	eventually(t, "records written with a retention of "+shortRetention.String()+" expire", func() bool {
		v, err := s.Snapshot(context.Background(), "short")
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		_, derr := s.Delivery(context.Background(), shortD)
		return v == nil && errors.Is(derr, webhook.ErrNotFound) && !slices.Contains(eventIDs(t, s, since), short.ID)
	})
	if got := eventIDs(t, s, since); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("events left = %v, want the one without retention", got)
	}
	if v, err := s.Snapshot(context.Background(), "kept"); err != nil || string(v) != "2" {
		t.Errorf("snapshot without retention: %q, %v", v, err)
	}
	if d, err := s.Delivery(context.Background(), keptD); err != nil || d.Status != webhook.Succeeded {
		t.Errorf("delivery without retention: %+v, %v", d, err)
	}
	if c, err := s.Count(context.Background()); err != nil || c.Events != 1 {
		t.Errorf("Count after expiry: %+v, %v; want 1 event", c, err)
	}
}
