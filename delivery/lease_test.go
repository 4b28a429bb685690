package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// diesAfterClaim is the store as a process sees it that dies right after a
// claim is written: the claim (under the lease the dispatcher asked for) is
// in the store, and no worker ever gets it.
type diesAfterClaim struct {
	Queue
	dead atomic.Bool
}

func (q *diesAfterClaim) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	claims, due, err := q.Queue.Claim(ctx, now, lease, budget, wants)
	if q.dead.Load() {
		return nil, due, err
	}
	return claims, due, err
}

// TestDispatcherLeaseAfterClaimLost: a delivery claimed by a process that
// died before attempting it is claimed again once its lease (timeout + 30s)
// has passed on the clock, not before, and then sent as attempt 1: the
// lost claim counts no attempt.
func TestDispatcherLeaseAfterClaimLost(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	sub := r.subscribe("sub_lease", "/lease")
	r.commit("order.created", 1)
	crashed := &diesAfterClaim{Queue: r.store}
	crashed.dead.Store(true)
	r.d = r.newDispatcher(crashed, s)

	r.at(r.t0)
	r.sent("/lease", 0)
	lease := s.Timeout + 30*time.Second
	dl := r.only(sub.ID)
	if dl.Status != webhook.Pending || len(dl.Attempts) != 0 || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(r.t0.Add(lease)) {
		t.Fatalf("the lost claim left the delivery %s with %d attempts, due %s; want pending, none, due +%s",
			dl.Status, len(dl.Attempts), r.due(dl), lease)
	}

	// The restarted process, on the same store.
	r.d = r.newDispatcher(r.store, s)
	r.at(r.t0.Add(lease - time.Millisecond))
	r.sent("/lease", 0)
	r.at(r.t0.Add(lease))
	if got := r.sent("/lease", 1); got[0].attempt != 1 {
		t.Errorf("the delivery came back as attempt %d, want 1", got[0].attempt)
	}
	if dl := r.only(sub.ID); dl.Status != webhook.Succeeded || len(dl.Attempts) != 1 {
		t.Errorf("after the lease the delivery is %s with %d attempts, want succeeded with 1", dl.Status, len(dl.Attempts))
	}
}

// TestDispatcherLeaseAfterAttemptCut: a process dies in the middle of an
// attempt (the receiver has the request; no answer is ever recorded). The
// restarted process sends the delivery again once the lease has passed,
// not before: at least once, the same event id twice. The dead attempt's
// late answer does not change the outcome.
func TestDispatcherLeaseAfterAttemptCut(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.Timeout = time.Minute // the hung attempt outlasts the test in real time
	r := newRig(t, s)
	sub := r.subscribe("sub_cut", "/cut")
	r.rcv.on("/cut", reply{status: 200, hang: true}, reply{status: 200})
	r.commit("order.created", 1)

	r.hanging = 1
	r.at(r.t0)
	eventually(t, "the first attempt to reach the receiver", func() bool { return len(r.rcv.at("/cut")) == 1 })

	// The first process is as good as dead: its attempt hangs. Another on
	// the same store does not touch the delivery before the lease is over.
	r.d, r.hanging = r.newDispatcher(r.store, s), 0
	lease := s.Timeout + 30*time.Second
	r.at(r.t0.Add(s.Timeout))
	r.at(r.t0.Add(lease - time.Millisecond))
	r.sent("/cut", 1)
	r.at(r.t0.Add(lease))
	got := r.sent("/cut", 2)
	if got[1].eventID != got[0].eventID || got[1].attempt != 1 {
		t.Errorf("sent again as event %s, attempt %d; want event %s, attempt 1 (the cut one was never recorded)",
			got[1].eventID, got[1].attempt, got[0].eventID)
	}
	if dl := r.only(sub.ID); dl.Status != webhook.Succeeded {
		t.Fatalf("after the lease the delivery is %s, want succeeded", dl.Status)
	}

	// The hung attempt ends (200) and is recorded: the delivery stays
	// succeeded, and nothing more is sent.
	r.rcv.releaseAll()
	eventually(t, "the hung attempt to be recorded", func() bool { return len(r.only(sub.ID).Attempts) == 2 })
	if dl := r.only(sub.ID); dl.Status != webhook.Succeeded || dl.NextAttemptAt != nil {
		t.Errorf("after the late answer the delivery is %s, due %s; want succeeded, not due", dl.Status, r.due(dl))
	}
	r.at(r.t0.Add(24 * time.Hour))
	r.sent("/cut", 2)
}
