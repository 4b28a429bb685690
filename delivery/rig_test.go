package delivery

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// rig is a dispatcher on a real Badger store (a temp dir), reading a fake
// clock, driven by the test: round runs one dispatch, as the loop does when
// woken, and waits for the workers to be done with what it claimed. Its
// workers send to a receiver (receiver_test.go) noting the fake clock's
// time, which answers at once unless scripted otherwise. No real time
// passes for the schedule: the clock moves when the test says.
type rig struct {
	t     *testing.T
	store *badgerstore.Store
	clock *fakeClock
	t0    time.Time // the first round's time, a little after the events were committed
	d     *Dispatcher
	rcv   *receiver
	// Its dispatchers log to logger, which keeps the entries in logs.
	logger *zap.Logger
	logs   *observer.ObservedLogs
	// hanging is how many attempts the test keeps in flight on purpose
	// (answers that hang): round does not wait for them.
	hanging int
}

// rigSettings are the settings of a rig unless a test says otherwise.
func rigSettings() Settings {
	return Settings{
		Retry: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}, Timeout: 5 * time.Second,
		RateLimit: "1000/s", DisableAfter: 0, AllowPrivateTargets: true, Workers: 4,
	}
}

func newRig(t *testing.T, s Settings) *rig {
	t.Helper()
	store, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	// Events are committed at the real time: the fake clock starts after.
	clock := newFakeClock()
	t0 := time.Now().Add(time.Second).UTC().Round(0)
	clock.Set(t0)
	core, logs := observer.New(zap.DebugLevel)
	r := &rig{t: t, store: store, clock: clock, t0: t0, logger: zap.New(core), logs: logs}
	r.rcv = newReceiver(t, clock.Now)
	r.d = r.newDispatcher(store, s)
	return r
}

// newDispatcher returns a dispatcher on q, reading the rig's clock, with
// its workers running and without its loop: the test calls dispatch
// itself. It stops when the test ends.
func (r *rig) newDispatcher(q Queue, s Settings) *Dispatcher {
	d := New(q)
	d.now = r.clock.Now
	d.logger.Store(r.logger)
	d.cfg.Store(&config{Settings: s, sender: newSender(s)})
	d.workers = s.Workers
	for range s.Workers {
		d.workWG.Add(1)
		go d.worker()
	}
	r.t.Cleanup(func() {
		r.rcv.releaseAll() // Stop waits for the attempts in flight
		d.Stop()
	})
	return d
}

// subscribe stores an active subscription sending to the receiver's path,
// to events matching the patterns (all if none).
func (r *rig) subscribe(id, path string, events ...string) *webhook.Subscription {
	r.t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	sub := &webhook.Subscription{
		ID: id, URL: r.rcv.url + path, Events: events, IsActive: true,
		Signature: "sha256", Secret: "a-secret-of-some-length",
	}
	if err := r.store.PutSubscription(context.Background(), sub); err != nil {
		r.t.Fatal(err)
	}
	return sub
}

// commit stores n events named name (their deliveries are due now, in real
// time, so before the fake clock's t0).
func (r *rig) commit(name string, n int) {
	r.t.Helper()
	now := time.Now()
	events := make([]webhook.Event, n)
	for i := range events {
		events[i] = webhook.Event{ID: webhook.NewID("evt_", now), Name: name, Time: now, Data: json.RawMessage(`{}`)}
	}
	if err := r.store.Commit(context.Background(), events, nil); err != nil {
		r.t.Fatal(err)
	}
}

// at sets the clock to t and runs a round.
func (r *rig) at(t time.Time) {
	r.t.Helper()
	r.clock.Set(t)
	r.round()
}

// round runs one dispatch and waits until the workers have recorded every
// attempt it started, but those the test keeps hanging.
func (r *rig) round() {
	r.t.Helper()
	r.d.dispatch()
	r.settle()
}

// settle waits until no attempt is in flight but the hanging ones.
func (r *rig) settle() {
	r.t.Helper()
	eventually(r.t, "the workers to record their attempts", func() bool {
		r.d.mu.Lock()
		defer r.d.mu.Unlock()
		busy := 0
		for _, n := range r.d.inflight {
			busy += n
		}
		return busy <= r.hanging
	})
}

// deliveries returns the subscription's deliveries of a status ("" for
// all).
func (r *rig) deliveries(subID, status string) []*webhook.Delivery {
	r.t.Helper()
	out, err := r.store.Deliveries(context.Background(), subID, status, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// only returns the subscription's one delivery.
func (r *rig) only(subID string) *webhook.Delivery {
	r.t.Helper()
	all := r.deliveries(subID, "")
	if len(all) != 1 {
		r.t.Fatalf("%s has %d deliveries, want 1", subID, len(all))
	}
	return all[0]
}

// subscription returns the stored subscription.
func (r *rig) subscription(id string) *webhook.Subscription {
	r.t.Helper()
	sub, err := r.store.Subscription(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return sub
}

// due says when a delivery is due, relative to t0.
func (r *rig) due(dl *webhook.Delivery) string {
	if dl.NextAttemptAt == nil {
		return "never"
	}
	return "+" + dl.NextAttemptAt.Sub(r.t0).String()
}

// sent fails the test unless the receiver got exactly n requests on path.
func (r *rig) sent(path string, n int) []request {
	r.t.Helper()
	got := r.rcv.at(path)
	if len(got) != n {
		r.t.Fatalf("at +%s the receiver got %d requests on %s, want %d", r.clock.Now().Sub(r.t0), len(got), path, n)
	}
	return got
}

// eventually polls cond every millisecond for up to 5s: for the workers,
// which run on their own goroutines; the schedule itself never waits.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !within(waitLimit, cond) {
		t.Fatalf("waited %s for %s", waitLimit, what)
	}
}

// within polls cond until it holds (true) or d has passed (false).
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// waitLimit bounds a wait for what takes milliseconds: a met condition
// returns at once, and a loaded CI machine (the race detector, every
// package's tests at once on two cores) can stall for seconds.
const waitLimit = 15 * time.Second

// waitSent waits until the receiver has n deliveries on path; if they do
// not come, it fails with the subscription's deliveries as stored, which
// say whether they were handed over, made due or attempted and failed.
func (r *rig) waitSent(subID, path string, n int) {
	r.t.Helper()
	if !within(waitLimit, func() bool { return len(r.rcv.at(path)) >= n }) {
		stored, _ := json.Marshal(r.deliveries(subID, ""))
		r.t.Fatalf("waited %s for %d deliveries on %s, got %d; the subscription's deliveries: %s",
			waitLimit, n, path, len(r.rcv.at(path)), stored)
	}
}

// logged returns the entries its dispatchers logged with msg.
func (r *rig) logged(msg string) []observer.LoggedEntry {
	return r.logs.FilterMessage(msg).AllUntimed()
}

// dispatch runs one full round, as the dispatcher's loop does on a tick.
func (d *Dispatcher) dispatch() time.Duration { return d.dispatchFor(true) }
