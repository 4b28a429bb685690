package delivery

import (
	"testing"
	"time"
)

// holds runs one dispatch at t and returns how many deliveries of the
// subscription (sending to path) it handed to the workers. While the test
// keeps attempts hanging, that is what is in flight once it returns; else
// a worker may finish one before it is counted (the receiver answers at
// once), so the attempts are counted at the receiver once they are all
// recorded.
func (r *rig) holds(subID, path string, t time.Time) int {
	r.t.Helper()
	before := len(r.rcv.at(path))
	r.clock.Set(t)
	r.d.dispatch()
	if r.hanging > 0 {
		r.d.mu.Lock()
		defer r.d.mu.Unlock()
		return r.d.inflight[subID]
	}
	r.settle()
	return len(r.rcv.at(path)) - before
}

// TestDispatcherShareFollowsPace: with 8 workers, a subscription starts
// at a quarter of them (2 in flight); once its subscriber answers quickly
// it may have three quarters (6), leaving a quarter to the others; as
// soon as its attempts in flight have taken fastAttempt (a subscriber that
// stopped answering), it gets no more than the quarter again, and stays
// there after a slow or failed attempt until one is delivered quickly.
func TestDispatcherShareFollowsPace(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.Workers = 8
	quarter, fast := 2, 6
	r := newRig(t, s)
	busy := r.subscribe("sub_busy", "/busy", "busy.*")
	other := r.subscribe("sub_other", "/other", "other.*")
	r.commit("busy.ping", 40)
	r.commit("other.ping", 10)
	setActive(t, r, other.ID, false) // until busy is fast

	// No attempt known yet: the quarter.
	if got := r.holds(busy.ID, "/busy", r.t0); got != quarter {
		t.Fatalf("first round: %d in flight, want the quarter, %d", got, quarter)
	}
	r.settle()
	r.sent("/busy", quarter)
	// Answered at once: three quarters, with one quarter for the other.
	at := r.t0.Add(time.Millisecond)
	if got := r.holds(busy.ID, "/busy", at); got != fast {
		t.Fatalf("after quick answers: %d in flight, want %d", got, fast)
	}
	r.settle()
	r.sent("/busy", quarter+fast)

	// The subscriber stops answering: its next claims hang. The other
	// subscription, new, has its quarter meanwhile.
	r.rcv.on("/busy", reply{status: 200, hang: true})
	r.rcv.on("/other", reply{status: 200, hang: true})
	setActive(t, r, other.ID, true)
	at = at.Add(time.Millisecond)
	r.hanging = fast + quarter
	if got := r.holds(busy.ID, "/busy", at); got != fast {
		t.Fatalf("still fast: %d in flight, want %d", got, fast)
	}
	r.d.mu.Lock()
	otherHeld := r.d.inflight[other.ID]
	r.d.mu.Unlock()
	if otherHeld != quarter {
		t.Fatalf("the other subscription has %d in flight beside the fast one, want the quarter left, %d", otherHeld, quarter)
	}
	eventually(t, "the hanging attempts to reach the receiver", func() bool {
		return len(r.rcv.at("/busy")) == 2*fast+quarter && len(r.rcv.at("/other")) == quarter
	})

	// Just before fastAttempt nothing changes; at fastAttempt the stuck
	// attempts make it slow: nothing more is claimed until it is back
	// under the quarter, and after the slow answers it stays there.
	r.rcv.on("/busy", reply{status: 200})
	r.rcv.on("/other", reply{status: 200})
	stuck := at
	if share := r.share(busy.ID, stuck.Add(fastAttempt-time.Millisecond)); share != fast {
		t.Fatalf("attempts in flight for less than %s: share %d, want %d", fastAttempt, share, fast)
	}
	if share := r.share(busy.ID, stuck.Add(fastAttempt)); share != quarter {
		t.Fatalf("attempts in flight for %s: share %d, want the quarter, %d", fastAttempt, share, quarter)
	}
	r.clock.Set(stuck.Add(fastAttempt))
	r.rcv.releaseAll() // they answer now, fastAttempt after they were sent: slow
	r.hanging = 0
	r.settle()
	setActive(t, r, other.ID, false) // busy alone again
	if got := r.holds(busy.ID, "/busy", stuck.Add(fastAttempt+time.Millisecond)); got != quarter {
		t.Fatalf("after slow answers: %d in flight, want the quarter, %d", got, quarter)
	}
	r.settle()
	// Those were quick: three quarters again.
	if got := r.holds(busy.ID, "/busy", stuck.Add(fastAttempt+2*time.Millisecond)); got != fast {
		t.Fatalf("after quick answers again: %d in flight, want %d", got, fast)
	}
	r.settle()

	// Failed attempts: back to the quarter.
	r.rcv.on("/busy", reply{status: 503})
	at = stuck.Add(fastAttempt + 3*time.Millisecond)
	if got := r.holds(busy.ID, "/busy", at); got != fast {
		t.Fatalf("fast before the failures: %d in flight, want %d", got, fast)
	}
	r.settle()
	if share := r.share(busy.ID, at); share != quarter {
		t.Fatalf("after failed attempts: share %d, want the quarter, %d", share, quarter)
	}
}

// share returns the subscription's share of the workers at t.
func (r *rig) share(subID string, t time.Time) int {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return r.d.shareLocked(subID, t)
}
