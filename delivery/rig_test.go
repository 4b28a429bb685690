package delivery

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// rig is a dispatcher on a real Badger store (a temp dir), reading a fake
// clock, driven by the test: round runs one dispatch, as the loop does when
// woken, and waits for the workers to be done with what it claimed. Its
// workers send to a scripted httptest receiver, which answers at once. No
// real time passes for the schedule: the clock moves when the test says.
type rig struct {
	t     *testing.T
	store *badgerstore.Store
	clock *fakeClock
	t0    time.Time // the first round's time, a little after the events were committed
	d     *Dispatcher
	rcv   *scripted
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
	r := &rig{t: t, store: store, clock: clock, t0: t0}
	r.rcv = newScripted(t, clock)
	r.d = r.newDispatcher(store, s)
	return r
}

// newDispatcher returns a dispatcher on q, reading the rig's clock, with
// its workers running and without its loop: the test calls dispatch
// itself. It stops when the test ends.
func (r *rig) newDispatcher(q Queue, s Settings) *Dispatcher {
	d := New(q)
	d.now = r.clock.Now
	d.logger.Store(zap.NewNop())
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
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// scripted is a receiver that answers each path from a script (the last
// answer repeats; 200 if none) and records what it got, at the fake
// clock's time.
type scripted struct {
	url   string
	clock *fakeClock
	hang  chan struct{} // closed: hanging answers return

	mu      sync.Mutex
	script  map[string][]reply
	got     []request
	release sync.Once
}

// reply is a scripted answer; hang holds it until the test ends.
type reply struct {
	status int
	header map[string]string
	hang   bool
}

type request struct {
	path    string
	at      time.Time // on the fake clock
	attempt int       // X-Webhook-Attempt
	eventID string    // the envelope's id
}

func newScripted(t *testing.T, clock *fakeClock) *scripted {
	s := &scripted{clock: clock, hang: make(chan struct{}), script: map[string][]reply{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *scripted) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &env)
	n, _ := strconv.Atoi(req.Header.Get("X-Webhook-Attempt"))
	s.mu.Lock()
	s.got = append(s.got, request{path: req.URL.Path, at: s.clock.Now(), attempt: n, eventID: env.ID})
	a := reply{status: http.StatusOK}
	if list := s.script[req.URL.Path]; len(list) > 0 {
		a = list[0]
		if len(list) > 1 {
			s.script[req.URL.Path] = list[1:]
		}
	}
	s.mu.Unlock()
	if a.hang {
		select {
		case <-s.hang:
		case <-req.Context().Done():
			return
		}
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
}

// on scripts the answers on path.
func (s *scripted) on(path string, replies ...reply) {
	s.mu.Lock()
	s.script[path] = replies
	s.mu.Unlock()
}

// at returns the requests received on path, in order.
func (s *scripted) at(path string) []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []request
	for _, g := range s.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// releaseAll lets the hanging answers return.
func (s *scripted) releaseAll() { s.release.Do(func() { close(s.hang) }) }
