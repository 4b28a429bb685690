package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// lease is long enough that no claim in a check runs out by itself: the
// checks move the clock past it.
const lease = time.Minute

// waitFor bounds every poll: what a store does in the background (an
// async commit, a wake-up) is expected well within it.
const waitFor = 5 * time.Second

// clock returns a time for Claim that is not before the store's own clock
// (which gave the deliveries their first due time) and is a whole
// millisecond, so that times derived from it survive a backend that keeps
// milliseconds.
func clock() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond).Add(time.Millisecond)
}

// newSub returns an active subscription to events (patterns allowed).
func newSub(events ...string) *webhook.Subscription {
	now := time.Now().UTC()
	return &webhook.Subscription{
		ID: webhook.NewID("sub_", now), URL: "https://receiver.example/hook", Events: events, IsActive: true,
		Signature: "standard", Secret: "whsec_c2VjcmV0", Filters: webhook.Filters{SiteIDs: []string{}},
		CreatedAt: now, UpdatedAt: now,
	}
}

// newEvent returns an event as the handler makes it: a time to the
// millisecond and an id made from it.
func newEvent(name, site string, at time.Time) webhook.Event {
	at = at.UTC().Truncate(time.Millisecond)
	id := webhook.NewID("evt_", at)
	return webhook.Event{ID: id, Name: name, Time: at, Site: site, Data: json.RawMessage(`{"id":"` + id + `"}`)}
}

// events returns n events of one name, a millisecond apart, ending now.
func events(name string, n int) []webhook.Event {
	now := time.Now()
	out := make([]webhook.Event, n)
	for i := range out {
		out[i] = newEvent(name, "", now.Add(time.Duration(i-n+1)*time.Millisecond))
	}
	return out
}

// configure sets the durability of the commits that follow, with no
// retention.
func configure(s storage.Store, d webhook.Durability, notStored func([]webhook.Event, error)) {
	s.Configure(storage.Settings{Durability: d, NotStored: notStored})
}

func put(t testing.TB, s storage.Store, subs ...*webhook.Subscription) {
	t.Helper()
	for _, sub := range subs {
		if err := s.PutSubscription(context.Background(), sub); err != nil {
			t.Fatalf("PutSubscription(%s): %v", sub.ID, err)
		}
	}
}

func commit(t testing.TB, s storage.Store, evs []webhook.Event, snaps ...webhook.Snapshot) {
	t.Helper()
	if err := s.Commit(context.Background(), evs, snaps); err != nil {
		t.Fatalf("Commit(%d events, %d snapshots): %v", len(evs), len(snaps), err)
	}
}

func claim(t testing.TB, s storage.Store, now time.Time, budget int, wants ...webhook.Want) ([]webhook.Claim, time.Time) {
	t.Helper()
	claims, next, err := s.Claim(context.Background(), now, lease, budget, wants)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return claims, next
}

// wantEach asks for up to n deliveries of each subscription.
func wantEach(n int, subs ...*webhook.Subscription) []webhook.Want {
	out := make([]webhook.Want, len(subs))
	for i, sub := range subs {
		out[i] = webhook.Want{SubID: sub.ID, Max: n}
	}
	return out
}

func delivery(t testing.TB, s storage.Store, id string) *webhook.Delivery {
	t.Helper()
	d, err := s.Delivery(context.Background(), id)
	if err != nil {
		t.Fatalf("Delivery(%s): %v", id, err)
	}
	return d
}

func update(t testing.TB, s storage.Store, id string, fn func(*webhook.Delivery)) *webhook.Delivery {
	t.Helper()
	d, err := s.UpdateDelivery(context.Background(), id, func(d *webhook.Delivery) error { fn(d); return nil })
	if err != nil {
		t.Fatalf("UpdateDelivery(%s): %v", id, err)
	}
	return d
}

// deliveryIDs returns the ids of the claimed deliveries, sorted.
func deliveryIDs(claims []webhook.Claim) []string {
	out := make([]string, len(claims))
	for i, c := range claims {
		out[i] = c.Delivery.ID
	}
	slices.Sort(out)
	return out
}

// perSub counts claims by subscription.
func perSub(claims []webhook.Claim) map[string]int {
	out := map[string]int{}
	for _, c := range claims {
		out[c.Delivery.SubscriptionID]++
	}
	return out
}

// eventIDs lists the events since a time, in the order the store gives them.
func eventIDs(t testing.TB, s storage.Store, since time.Time) []string {
	t.Helper()
	var out []string
	if err := s.EventsSince(context.Background(), since, func(ev webhook.Event) error { out = append(out, ev.ID); return nil }); err != nil {
		t.Fatalf("EventsSince(%v): %v", since, err)
	}
	return out
}

func idsOf(evs []webhook.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

// eventually polls cond until it holds, failing the check after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sameJSON reports how got differs from want once both are encoded, or "".
func sameJSON(got, want any) string {
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err := errors.Join(err1, err2); err != nil {
		return err.Error()
	}
	if string(g) != string(w) {
		return fmt.Sprintf("got  %s\nwant %s", g, w)
	}
	return ""
}

// findSub returns the subscription of id in list, or nil.
func findSub(list []*webhook.Subscription, id string) *webhook.Subscription {
	for _, sub := range list {
		if sub.ID == id {
			return sub
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
