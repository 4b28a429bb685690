package delivery

import (
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestDispatcherDeadSubscriberHoldsItsShare: with 8 workers, a subscriber
// that never answers, with a backlog committed first, holds at most a
// quarter of them (2 attempts in flight; the rest of its backlog is not
// even claimed), and another subscription's deliveries go out meanwhile:
// a quarter in the first round, then, its subscriber answering quickly,
// on every worker the dead one leaves (share.go).
func TestDispatcherDeadSubscriberHoldsItsShare(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.Workers = 8
	share := s.Workers / 4
	r := newRig(t, s)
	dead := r.subscribe("sub_dead", "/dead", "dead.*")
	alive := r.subscribe("sub_alive", "/alive", "alive.*")
	r.rcv.on("/dead", reply{status: 200, hang: true})
	r.commit("dead.ping", 10)
	r.commit("alive.ping", 20)
	aliveSent := []int{share, share + (s.Workers - share), share + 2*(s.Workers-share)}

	r.hanging = share
	for round := 1; round <= 3; round++ {
		r.clock.Set(r.t0.Add(time.Duration(round) * time.Millisecond))
		r.d.dispatch()
		r.d.mu.Lock()
		held := r.d.inflight[dead.ID]
		r.d.mu.Unlock()
		if held != share {
			t.Fatalf("round %d: the dead subscriber holds %d workers, want %d (a quarter of %d)", round, held, share, s.Workers)
		}
		r.settle()
		r.sent("/alive", aliveSent[round-1])
	}
	eventually(t, "the dead subscriber's attempts to arrive", func() bool { return len(r.rcv.at("/dead")) >= share })
	r.sent("/dead", share)
	if done := r.deliveries(alive.ID, webhook.Succeeded); len(done) != aliveSent[2] {
		t.Errorf("%d of the live subscription's deliveries succeeded, want %d", len(done), aliveSent[2])
	}
	// The dead one's backlog beyond its share was left alone.
	untouched := 0
	for _, dl := range r.deliveries(dead.ID, webhook.Pending) {
		if dl.NextAttemptAt.Equal(dl.CreatedAt) {
			untouched++
		}
	}
	if untouched != 10-share {
		t.Errorf("%d of the dead subscriber's deliveries left unclaimed, want %d", untouched, 10-share)
	}
}
