package storagetest

import (
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
	if err := s.Commit([]webhook.Event{short}, []webhook.Snapshot{{Key: "short", Value: []byte(`1`)}}, shortRetention, webhook.Sync, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
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
		if _, err := s.UpdateDelivery(c.Delivery.ID, retention, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt = webhook.Succeeded, nil
			return nil
		}); err != nil {
			t.Fatalf("UpdateDelivery: %v", err)
		}
	}

	since := short.Time.Add(-time.Second)
	eventually(t, "records written with a retention of "+shortRetention.String()+" expire", func() bool {
		v, err := s.Snapshot("short")
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		_, derr := s.Delivery(shortD)
		return v == nil && errors.Is(derr, webhook.ErrNotFound) && !slices.Contains(eventIDs(t, s, since), short.ID)
	})
	if got := eventIDs(t, s, since); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("events left = %v, want the one without retention", got)
	}
	if v, err := s.Snapshot("kept"); err != nil || string(v) != "2" {
		t.Errorf("snapshot without retention: %q, %v", v, err)
	}
	if d, err := s.Delivery(keptD); err != nil || d.Status != webhook.Succeeded {
		t.Errorf("delivery without retention: %+v, %v", d, err)
	}
	if c, err := s.Count(); err != nil || c.Events != 1 {
		t.Errorf("Count after expiry: %+v, %v; want 1 event", c, err)
	}
}
