package delivery

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The dispatcher is the Taker of a store that hands deliveries over at
// commit (storage.HandOff): a delivery made when its subscription has
// room is leased to the dispatcher by its commit and comes here in memory,
// with its event and subscription, instead of being claimed from the
// store. A subscription that had a delivery created due now (no room at
// the time) is not handed deliveries again until a claim scan found none
// left: they go out in order, not after the newer ones.

var _ storage.Taker = (*Dispatcher)(nil)

// handOffStore is a Queue that can hand deliveries over at commit.
type handOffStore interface {
	Queue
	storage.HandOff
}

// Room says whether a delivery to sub, made now, would be taken at once
// besides the held ones its commit already has, and the lease to make it
// under.
func (d *Dispatcher) Room(sub *webhook.Subscription, held int) (time.Duration, bool) {
	cfg := d.cfg.Load()
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped || !d.clear[sub.ID] {
		return 0, false // its due deliveries are claimed first
	}
	ok := d.busy+held < d.workers && d.inflight[sub.ID]+held < d.shareLocked(sub.ID, now)
	if ok {
		if w := d.windowLocked(sub, cfg.RateLimit); w != nil && w.room()-d.claimed[sub.ID]-held <= 0 {
			ok = false
		}
	}
	if !ok {
		// Made due now instead: it must be claimed before any newer
		// delivery of the subscription is handed over, even by a scan
		// that began before its commit (dirty).
		d.clear[sub.ID] = false
		d.dirty[sub.ID]++
		return 0, false
	}
	return cfg.Timeout + leaseMargin, true
}

// Take receives the deliveries a commit leased to the dispatcher. Those
// its subscription still has room for go to the workers (through the loop
// if none is waiting); the others, which concurrent commits left without
// room, go back to the queue, due now. It never blocks nor calls the
// store: it runs inside the commit.
func (d *Dispatcher) Take(claims []webhook.Claim) {
	now := d.now()
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		go d.putBack(context.Background(), claims) // the store may be closing: it refuses then, and the lease runs out
		return
	}
	var ready []webhook.Claim
	for _, c := range claims {
		if d.busy < d.workers && d.inflight[c.Sub.ID] < d.shareLocked(c.Sub.ID, now) {
			d.countLocked(c, now)
			ready = append(ready, c)
		} else {
			d.excess = append(d.excess, c)
			d.clear[c.Sub.ID] = false
			d.dirty[c.Sub.ID]++
		}
	}
	for _, c := range ready {
		select {
		case d.work <- c: // a worker was waiting
		default:
			d.handed = append(d.handed, c)
		}
	}
	wake := len(d.handed) > 0 || len(d.excess) > 0
	d.mu.Unlock()
	if wake {
		select {
		case d.handedC <- struct{}{}:
		default:
		}
	}
}

// takeHanded gives the loop what Take could not give a worker at once,
// and puts the excess back; false if the dispatcher stopped meanwhile.
func (d *Dispatcher) takeHanded() bool {
	d.mu.Lock()
	handed, excess := d.handed, d.excess
	d.handed, d.excess = nil, nil
	d.mu.Unlock()
	d.putBack(d.ctx, excess)
	for i, c := range handed {
		select {
		case d.work <- c:
		case <-d.stop:
			for _, rest := range handed[i:] {
				d.release(rest)
			}
			return false
		}
	}
	return true
}

// putBack makes leased deliveries that no worker took due now.
func (d *Dispatcher) putBack(ctx context.Context, claims []webhook.Claim) {
	for _, c := range claims {
		if err := d.dueNow(ctx, c.Delivery.ID); err != nil {
			d.log().Error("putting a handed delivery back", zap.String("delivery", c.Delivery.ID), zap.Error(err))
		}
	}
}

// countLocked counts a claim in flight from now. d.mu is held.
func (d *Dispatcher) countLocked(c webhook.Claim, now time.Time) {
	d.inflight[c.Sub.ID]++
	d.claimed[c.Sub.ID]++
	d.busy++
	d.paceLocked(c.Sub.ID).since[c.Delivery.ID] = now
}

// forgetInactive drops what the hand-off knows of subscriptions no longer
// active (paused or deleted): one that comes back is scanned first.
func (d *Dispatcher) forgetInactive(active []*webhook.Subscription) {
	ids := make(map[string]bool, len(active))
	for _, sub := range active {
		ids[sub.ID] = true
	}
	d.cfg.Load().sender.creds.forget(ids)
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.clear {
		if !ids[id] {
			delete(d.clear, id)
			delete(d.dirty, id)
		}
	}
}
