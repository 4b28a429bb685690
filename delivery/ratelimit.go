package delivery

import (
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The dispatcher's side of the rate limits: one window per subscription
// that sent in the last period (d.windows), and the deliveries claimed but
// not yet past their rate check (d.claimed), which the window does not
// count yet. All under d.mu.

// windowLocked returns the subscription's window for its rate limit (or
// def), nil for no limit. A changed limit keeps the sends of the old one.
func (d *Dispatcher) windowLocked(sub *webhook.Subscription, def string) *window {
	spec := sub.RateLimit
	if _, err := webhook.ParseRate(spec); err != nil {
		spec = def // none, or one stored before the API refused it: the app's default
	}
	w := d.windows[sub.ID]
	if w != nil && w.spec == spec {
		return w
	}
	var nw *window
	var ok bool
	if w != nil {
		nw, ok = w.resize(spec)
	} else {
		nw, ok = newWindow(spec, d.now)
	}
	if !ok {
		return nil // the app's default is validated when the config loads
	}
	d.windows[sub.ID] = nw
	return nw
}

// rateRoom returns how many of the subscription's deliveries may be
// claimed now, and if none, when to look again (zero: when a send ends);
// limited is false when it has no rate limit.
func (d *Dispatcher) rateRoom(sub *webhook.Subscription, def string) (room int, at time.Time, limited bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.windowLocked(sub, def)
	if w == nil {
		return 0, time.Time{}, false
	}
	room = w.room() - d.claimed[sub.ID]
	if room <= 0 {
		at = w.next()
	}
	return room, at, true
}

// beginSend is a claimed delivery's rate check: it takes a slot in the
// subscription's window, or says when to try again.
func (d *Dispatcher) beginSend(sub *webhook.Subscription, def string) (bool, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unclaimLocked(sub.ID)
	w := d.windowLocked(sub, def)
	if w == nil {
		return true, time.Time{}
	}
	return w.begin()
}

// endSend logs a send that beginSend let through, now that it is over.
func (d *Dispatcher) endSend(subID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.windows[subID]; w != nil {
		w.end()
	}
}

func (d *Dispatcher) unclaim(subID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unclaimLocked(subID)
}

func (d *Dispatcher) unclaimLocked(subID string) {
	if d.claimed[subID]--; d.claimed[subID] <= 0 {
		delete(d.claimed, subID)
	}
}

// dropIdleWindows forgets the windows with nothing in them, those of
// deleted and paused subscriptions among them (an active subscription's is
// made again, empty, at its next scan).
func (d *Dispatcher) dropIdleWindows() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, w := range d.windows {
		if w.idle() {
			delete(d.windows, id)
		}
	}
}
