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

// checkReplaySince: EventsSince gives exactly the events inferred at or
// after a time, in time order whatever the order of their commits, and
// stops at fn's error; AddDeliveries queues them, due now, for one
// subscription (the admin replay route).
func checkReplaySince(t testing.TB, s storage.Store) {
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	evs := make([]webhook.Event, 6)
	for i := range evs {
		name := "order.created"
		if i%2 == 1 {
			name = "customer.created"
		}
		evs[i] = newEvent(name, "", base.Add(time.Duration(i)*time.Second))
	}
	commit(t, s, evs[3:])
	commit(t, s, evs[:3])
	for _, c := range []struct {
		since time.Time
		want  []webhook.Event
	}{
		{base.Add(-time.Second), evs},
		{evs[2].Time, evs[2:]}, // inclusive
		{evs[2].Time.Add(time.Millisecond), evs[3:]},
		{evs[5].Time.Add(time.Second), nil},
	} {
		if got := eventIDs(t, s, c.since); !slices.Equal(got, idsOf(c.want)) {
			t.Errorf("EventsSince(base%+v) = %v, want %v", c.since.Sub(base), got, idsOf(c.want))
		}
	}
	boom := errors.New("boom")
	calls := 0
	if err := s.EventsSince(context.Background(), base, func(webhook.Event) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Errorf("EventsSince whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}

	// A subscription made after the commits got none of them: replay.
	sub := newSub("order.*")
	put(t, s, sub)
	var picked []webhook.Event
	if err := s.EventsSince(context.Background(), evs[1].Time, func(ev webhook.Event) error {
		if sub.Wants(ev.Name) && sub.AcceptsSite(ev.Site) {
			picked = append(picked, ev)
		}
		return nil
	}); err != nil {
		t.Fatalf("EventsSince: %v", err)
	}
	if len(picked) != 2 {
		t.Fatalf("picked %d events to replay, want 2", len(picked))
	}
	n, err := s.AddDeliveries(context.Background(), sub, picked)
	if err != nil || n != 2 {
		t.Fatalf("AddDeliveries = %d, %v; want 2", n, err)
	}
	if q := s.QueueDepth(); q != 2 {
		t.Errorf("queue depth after replaying 2 events: %d", q)
	}
	claims, _ := claim(t, s, clock(), 10, wantEach(10, sub)...)
	var got []string
	for _, c := range claims {
		got = append(got, c.Event.ID)
		if c.Delivery.Status != webhook.Pending || c.Sub.ID != sub.ID || c.Delivery.Event != c.Event.Name {
			t.Errorf("replayed claim %+v", c.Delivery)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, idsOf(picked)) {
		t.Errorf("claimed replays of %v, want %v, due now", got, idsOf(picked))
	}
}

// checkRecentEvents: the newest events come first, as many as asked,
// filtered by name or pattern, shadow ones marked.
func checkRecentEvents(t testing.TB, s storage.Store) {
	base := clock()
	var evs []webhook.Event
	for i, name := range []string{"order.created", "customer.created", "order.paid", "order.created", "customer.updated"} {
		evs = append(evs, newEvent(name, "", base.Add(time.Duration(i)*time.Millisecond)))
	}
	evs[3].Shadow = true
	for i := range evs {
		commit(t, s, evs[i:i+1])
	}
	ids := func(got []webhook.Event) []string {
		var out []string
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	want := []string{evs[4].ID, evs[3].ID, evs[2].ID}
	var got []webhook.Event
	eventually(t, "the newest three events listed", func() bool {
		var err error
		got, err = s.RecentEvents(context.Background(), 3, "")
		return err == nil && slices.Equal(ids(got), want)
	})
	if !got[1].Shadow || got[0].Shadow || sameJSON(got[1], evs[3]) != "" {
		t.Errorf("listed %+v, want the events as committed, the second shadow", got)
	}
	orders, err := s.RecentEvents(context.Background(), 10, "order.*")
	if want := []string{evs[3].ID, evs[2].ID, evs[0].ID}; err != nil || !slices.Equal(ids(orders), want) {
		t.Errorf("RecentEvents(order.*) = %v, %v; want %v", ids(orders), err, want)
	}
	one, err := s.RecentEvents(context.Background(), 10, "customer.updated")
	if err != nil || len(one) != 1 || one[0].ID != evs[4].ID {
		t.Errorf("RecentEvents(customer.updated) = %v, %v", ids(one), err)
	}
}
