package delivery

import "time"

// fastAttempt is how quickly a subscriber must answer for its subscription
// to count as fast (see shareLocked).
const fastAttempt = time.Second

// pace is what the dispatcher knows of a subscription's recent attempts,
// which decides its share of the workers.
type pace struct {
	fast  bool                 // its last attempt was delivered within fastAttempt
	since map[string]time.Time // its claims in flight: when each was claimed, by delivery id
}

// shareLocked returns how many deliveries of the subscription may be
// claimed or in flight at once. A quarter of the workers, so that a dead
// or slow subscriber holds no more; while its subscriber answers quickly,
// three quarters: a single busy subscription then keeps most workers
// busy, and the last quarter is left for the others. It falls back to the
// quarter as soon as an attempt fails or is slow, or one in flight has
// been for fastAttempt (a subscriber that stopped answering). d.mu is
// held.
func (d *Dispatcher) shareLocked(subID string, now time.Time) int {
	quarter := max(1, d.workers/4)
	p := d.paces[subID]
	if p == nil || !p.fast {
		return quarter
	}
	for _, at := range p.since {
		if now.Sub(at) >= fastAttempt {
			return quarter
		}
	}
	return max(quarter, d.workers-quarter)
}

// paceLocked returns the subscription's pace, made if need be. d.mu is
// held.
func (d *Dispatcher) paceLocked(subID string) *pace {
	p := d.paces[subID]
	if p == nil {
		p = &pace{since: map[string]time.Time{}}
		d.paces[subID] = p
	}
	return p
}

// paced notes how an attempt of the subscription went: delivered within
// fastAttempt or not.
func (d *Dispatcher) paced(subID string, fast bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paceLocked(subID).fast = fast
}

// dropIdlePaces forgets what is known of the subscriptions with no claim
// in flight (deleted ones among them): one that comes back starts at the
// quarter again.
func (d *Dispatcher) dropIdlePaces() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, p := range d.paces {
		if len(p.since) == 0 {
			delete(d.paces, id)
		}
	}
}
