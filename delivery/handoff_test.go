package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// countsClaims is the rig's store, counting the claims made.
type countsClaims struct {
	*badgerstore.Store
	n atomic.Int64
}

func (q *countsClaims) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	q.n.Add(1)
	return q.Store.Claim(ctx, now, lease, budget, wants)
}

// leased says whether a delivery was made leased by its commit (due
// again lease after it was made) rather than due at once.
func leased(dl *webhook.Delivery, lease time.Duration) bool {
	return dl.NextAttemptAt != nil && dl.NextAttemptAt.Equal(dl.CreatedAt.Add(lease))
}

// TestHandOffSkipsClaim: once a scan found nothing left to claim, the
// deliveries a commit makes are leased to the dispatcher and go out
// without any claim or dispatch round: the commit hands them to the
// workers.
func TestHandOffSkipsClaim(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	s.Workers = 16 // room for 4 at once
	r := newRig(t, s)
	q := &countsClaims{Store: r.store}
	r.d = r.newDispatcher(q, s)
	r.store.SetTaker(r.d)
	sub := r.subscribe("sub_handed", "/handed")
	r.round() // nothing due: the subscription is clear
	claims := q.n.Load()

	r.commit("order.created", 3)
	r.waitSent(sub.ID, "/handed", 3)
	r.settle()
	if n := q.n.Load() - claims; n != 0 {
		t.Errorf("%d claims made for handed deliveries, want none", n)
	}
	for _, dl := range r.deliveries(sub.ID, "") {
		if dl.Status != webhook.Succeeded || len(dl.Attempts) != 1 {
			t.Errorf("delivery %s: %s with %d attempts, want succeeded with 1", dl.ID, dl.Status, len(dl.Attempts))
		}
	}
}

// dropsTake is a dispatcher's process dying between a commit and the
// sending of what it was handed: its commits lease deliveries to it,
// which never get them.
type dropsTake struct{ lease time.Duration }

func (t dropsTake) Room(*webhook.Subscription, int) (time.Duration, bool) { return t.lease, true }
func (dropsTake) Take([]webhook.Claim)                                    {}

// TestHandOffLeaseAfterCrash: a delivery handed over at commit whose
// process died before sending it is in the store, leased: it is claimed
// and sent (as attempt 1) once the lease has run out, not before.
func TestHandOffLeaseAfterCrash(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	sub := r.subscribe("sub_crash", "/crash")
	lease := s.Timeout + leaseMargin
	r.store.SetTaker(dropsTake{lease})
	r.commit("order.created", 1)
	r.store.SetTaker(nil)

	dl := r.only(sub.ID)
	if dl.Status != webhook.Pending || !leased(dl, lease) {
		t.Fatalf("handed over, the delivery is %s due %s; want pending, leased for %s", dl.Status, r.due(dl), lease)
	}
	r.at(dl.NextAttemptAt.Add(-time.Millisecond))
	r.sent("/crash", 0)
	r.at(*dl.NextAttemptAt)
	if got := r.sent("/crash", 1); got[0].attempt != 1 {
		t.Errorf("sent after the lease as attempt %d, want 1", got[0].attempt)
	}
	if dl := r.only(sub.ID); dl.Status != webhook.Succeeded {
		t.Errorf("after the lease the delivery is %s, want succeeded", dl.Status)
	}
}

// TestHandOffAfterBacklog: with 4 workers a new subscription has one
// delivery in flight at a time. While one hangs, the next commit finds no
// room: its delivery is made due now, and so is every later one, even
// with room again, until claims have taken them all: a backlog goes out
// before newer deliveries are handed over. Then hand-offs resume.
func TestHandOffAfterBacklog(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	r.store.SetTaker(r.d)
	sub := r.subscribe("sub_backlog", "/backlog")
	r.round()

	r.rcv.on("/backlog", reply{status: 200, hang: true}, reply{status: 200})
	r.commit("order.created", 1) // handed over: in flight, hanging
	r.waitSent(sub.ID, "/backlog", 1)
	r.commit("order.created", 2) // no room: due now
	r.rcv.releaseAll()
	r.settle()
	r.commit("order.created", 1) // room again, but a backlog
	all := r.deliveries(sub.ID, "")
	if len(all) != 4 {
		t.Fatalf("%d deliveries, want 4", len(all))
	}
	if first := all[3]; first.Status != webhook.Succeeded { // newest first
		t.Errorf("the handed delivery is %s, want succeeded", first.Status)
	}
	for i, dl := range all[:3] {
		if dl.Status != webhook.Pending || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(dl.CreatedAt) {
			t.Errorf("delivery %d of 4: %s due %s; want pending, due when made (not handed over)", 4-i, dl.Status, r.due(dl))
		}
	}

	// Claimed in rounds until a scan finds none left; then handed over
	// again: sent with no round.
	for range 4 {
		r.at(r.clock.Now().Add(time.Millisecond))
	}
	r.sent("/backlog", 4)
	r.commit("order.created", 1)
	r.waitSent(sub.ID, "/backlog", 5)
}

// alwaysRoom is the dispatcher as concurrent commits see it: each was
// told there was room, more than there is.
type alwaysRoom struct {
	*Dispatcher
	lease time.Duration
}

func (a alwaysRoom) Room(*webhook.Subscription, int) (time.Duration, bool) { return a.lease, true }

// TestHandOffStopPutsExcessBack: deliveries handed over beyond what the
// subscription has room for are not sent; when the dispatcher stops they
// go back to the queue, due at once, with no attempt.
func TestHandOffStopPutsExcessBack(t *testing.T) {
	t.Parallel()
	s := rigSettings() // 4 workers: one in flight for a new subscription
	r := newRig(t, s)
	d := New(r.store)
	d.now = r.clock.Now
	d.logger.Store(r.logger)
	d.cfg.Store(&config{Settings: s, sender: newSender(s)})
	d.workers = s.Workers
	for range s.Workers {
		d.workWG.Add(1)
		go d.worker()
	}
	sub := r.subscribe("sub_excess", "/excess")
	r.rcv.on("/excess", reply{status: 200, hang: true})
	lease := s.Timeout + leaseMargin
	r.store.SetTaker(alwaysRoom{d, lease})

	r.commit("order.created", 1) // in flight, hanging
	r.waitSent(sub.ID, "/excess", 1)
	r.commit("order.created", 1) // no room left: set aside
	r.rcv.releaseAll()
	d.Stop()

	all := r.deliveries(sub.ID, "")
	if len(all) != 2 {
		t.Fatalf("%d deliveries, want 2", len(all))
	}
	r.sent("/excess", 1)
	if dl := all[1]; dl.Status != webhook.Succeeded {
		t.Errorf("the delivery in flight at the stop is %s, want succeeded", dl.Status)
	}
	if dl := all[0]; dl.Status != webhook.Pending || len(dl.Attempts) != 0 || leased(dl, lease) || dl.NextAttemptAt.After(r.clock.Now()) {
		t.Errorf("the excess after the stop: %s, %d attempts, due %s; want pending, none, due at once", dl.Status, len(dl.Attempts), r.due(dl))
	}
}

// TestHandOffOneCommitWithinRoom: a commit of three events to a new
// subscription with room for one (4 workers) leases it one delivery; the
// other two are made due now, to be claimed, rather than handed over only
// to find no room.
func TestHandOffOneCommitWithinRoom(t *testing.T) {
	t.Parallel()
	s := rigSettings()
	r := newRig(t, s)
	r.store.SetTaker(r.d)
	sub := r.subscribe("sub_many", "/many")
	r.round()
	r.rcv.on("/many", reply{status: 200, hang: true})
	r.commit("order.created", 3)
	r.waitSent(sub.ID, "/many", 1)
	lease := s.Timeout + leaseMargin
	var handed, due int
	for _, dl := range r.deliveries(sub.ID, "") {
		switch {
		case leased(dl, lease):
			handed++
		case dl.NextAttemptAt != nil && dl.NextAttemptAt.Equal(dl.CreatedAt):
			due++
		}
	}
	if handed != 1 || due != 2 {
		t.Errorf("%d handed over and %d due now, want 1 and 2", handed, due)
	}
	r.rcv.releaseAll()
	r.settle()
}
