package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestDispatcherRateLimitWindow: 150 events at once to a subscription
// limited to 100/m, on a fake clock: 100 go out in the first minute, the
// other 50 stay in place in the queue (not claimed, no attempt) until the
// clock is a minute past the first sends, and then go out. None is lost,
// the window's log is freed once a period passes without sends, and the
// window goes with its subscription.
func TestDispatcherRateLimitWindow(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	t.Cleanup(rcv.Close)
	store, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	sub := &webhook.Subscription{
		ID: "sub_limited", URL: rcv.URL, Events: []string{"*"}, IsActive: true,
		Signature: "sha256", Secret: "a-secret-of-some-length", RateLimit: "100/m",
	}
	if err := store.PutSubscription(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	events := make([]webhook.Event, 150)
	for i := range events {
		events[i] = webhook.Event{ID: webhook.NewID("evt_", created), Name: "order.created", Time: created, Data: json.RawMessage(`{}`)}
	}
	if err := store.Commit(context.Background(), events, nil); err != nil {
		t.Fatal(err)
	}

	clock := newFakeClock()
	start := created.Add(time.Second)
	clock.Set(start)
	d := New(store)
	d.now = clock.Now
	s := Settings{Retry: []time.Duration{time.Minute}, Timeout: 5 * time.Second, RateLimit: "1000/s", AllowPrivateTargets: true, Workers: 16}
	d.logger.Store(zap.NewNop())
	d.cfg.Store(&config{Settings: s, sender: newSender(s)})
	// The workers without the loop: the test calls dispatch itself.
	d.workers = s.Workers
	for range s.Workers {
		d.workWG.Add(1)
		go d.worker()
	}
	t.Cleanup(d.Stop)

	drain(t, d, &got)
	if n := got.Load(); n != 100 {
		t.Fatalf("%d deliveries sent in the first minute, want 100", n)
	}
	pending, err := store.Deliveries(context.Background(), sub.ID, "pending", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 50 {
		t.Fatalf("%d deliveries pending after the first minute, want 50", len(pending))
	}
	for _, dl := range pending {
		if len(dl.Attempts) != 0 || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(dl.CreatedAt) {
			t.Fatalf("delivery %s waiting for the rate: %d attempts, due %v; want none, and left where it was (due %v)",
				dl.ID, len(dl.Attempts), dl.NextAttemptAt, dl.CreatedAt)
		}
	}

	clock.Set(start.Add(time.Minute - time.Millisecond))
	drain(t, d, &got)
	if n := got.Load(); n != 100 {
		t.Fatalf("%d deliveries sent before the first ones are a minute old, want 100", n)
	}

	clock.Set(start.Add(time.Minute))
	drain(t, d, &got)
	if n := got.Load(); n != 150 {
		t.Fatalf("%d deliveries sent a minute after the first ones, want 150", n)
	}
	done, err := store.Deliveries(context.Background(), sub.ID, "succeeded", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 150 {
		t.Fatalf("%d deliveries succeeded, want 150", len(done))
	}
	for _, dl := range done {
		if len(dl.Attempts) != 1 {
			t.Errorf("delivery %s took %d attempts, want 1", dl.ID, len(dl.Attempts))
		}
	}

	// A period with no sends: the window keeps no log; once the
	// subscription is deleted, the window is dropped at the next full scan.
	clock.Set(start.Add(2 * time.Minute))
	d.dispatch()
	d.mu.Lock()
	kept := cap(d.windows[sub.ID].log)
	d.mu.Unlock()
	if kept != 0 {
		t.Errorf("the window's log keeps room for %d sends after a period without any, want 0", kept)
	}
	if err := store.DeleteSubscription(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(2*time.Minute + idleEvery + time.Second))
	d.dispatch()
	d.mu.Lock()
	left := len(d.windows)
	d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d windows kept after the subscription was deleted, want none", left)
	}
}

// drain runs dispatch rounds, each until the workers are done with what it
// claimed, until a round sends nothing.
func drain(t *testing.T, d *Dispatcher, got *atomic.Int64) {
	t.Helper()
	for range 500 {
		before := got.Load()
		d.dispatch()
		deadline := time.Now().Add(10 * time.Second)
		for busy := true; busy; {
			d.mu.Lock()
			busy = len(d.inflight) > 0
			d.mu.Unlock()
			if busy && time.Now().After(deadline) {
				t.Fatal("deliveries still in flight after 10s")
			}
			if busy {
				time.Sleep(time.Millisecond) // polling the workers
			}
		}
		if got.Load() == before {
			return
		}
	}
	t.Fatal("still sending after 500 rounds")
}
