package delivery

import (
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// exactMax is the largest count per period whose sends a window logs one
// by one. Above it, sends are counted in slices of per/windowSlices, so
// that a window holds at most about windowSlices entries (16 bytes each)
// however high the rate.
const (
	exactMax     = 1000
	windowSlices = 1000
)

// window is a subscription's rate limit, a sliding log: at most n sends in
// any window of per, so that a burst under the limit goes out at once and
// the excess waits until the oldest send in the window is a period old.
//
// A send takes a slot when it begins (begin) and is logged at the time it
// ends (end): the receiver got it before then, so measured at the receiver
// too no window of per sees more than n. Logged sends leave the log a
// period after they ended; a window with nothing logged and nothing in
// flight is idle and can be dropped.
//
// Above exactMax sends per period, a send is logged at the end of its
// slice of per/windowSlices: counted a little longer than it needs to be,
// which can hold the excess back that much longer, never let more through.
//
// It reads time through now (time.Now, or a test's clock), as offsets from
// epoch so that the monotonic clock is used. It is not safe for concurrent
// use: the dispatcher holds its mutex.
type window struct {
	spec    string
	n       int
	per     time.Duration
	quantum time.Duration // 0: one entry per send

	now   func() time.Time
	epoch time.Time

	log   []entry // oldest first
	total int     // sends in log
	open  int     // sends begun and not ended
}

// entry is count sends logged at offset at.
type entry struct {
	at    time.Duration
	count int
}

// newWindow returns the window of a rate limit like 100/m, or false if
// spec is not one.
func newWindow(spec string, now func() time.Time) (*window, bool) {
	r, err := webhook.ParseRate(spec)
	if err != nil {
		return nil, false
	}
	w := &window{spec: spec, n: r.N, per: r.Per, now: now, epoch: now()}
	if r.N > exactMax {
		w.quantum = r.Per / windowSlices
	}
	return w, true
}

// since returns now as an offset from the window's epoch, after dropping
// the sends a period old.
func (w *window) since() time.Duration {
	t := w.now().Sub(w.epoch)
	i := 0
	for ; i < len(w.log) && w.log[i].at+w.per <= t; i++ {
		w.total -= w.log[i].count
	}
	if i == len(w.log) {
		w.log = nil // an empty log keeps no memory
	} else if i > 0 {
		w.log = w.log[i:]
	}
	return t
}

// room returns how many sends may begin now (0 or fewer: none).
func (w *window) room() int {
	w.since()
	return w.n - w.total - w.open
}

// next returns when a send may begin, if room says none may now: when the
// oldest logged send is a period old. It is the zero time when only sends
// in flight fill the window: their end frees it.
func (w *window) next() time.Time {
	w.since()
	if len(w.log) == 0 {
		return time.Time{}
	}
	return w.epoch.Add(w.log[0].at + w.per)
}

// begin takes a slot for a send if one is free now; if not, it returns
// when to try again (see next).
func (w *window) begin() (bool, time.Time) {
	if w.room() <= 0 {
		return false, w.next()
	}
	w.open++
	return true, time.Time{}
}

// end logs a send that began, now.
func (w *window) end() {
	if w.open > 0 {
		w.open--
	}
	w.add(w.since(), 1)
}

// add logs count sends at offset t, which is not before the last entry's.
func (w *window) add(t time.Duration, count int) {
	if w.quantum > 0 {
		t = ceilTo(t, w.quantum)
		if last := len(w.log) - 1; last >= 0 && w.log[last].at == t {
			w.log[last].count += count
		} else {
			w.log = append(w.log, entry{t, count})
		}
		w.total += count
		return
	}
	for range min(count, w.n) {
		if w.total == w.n { // only the last n sends matter: older ones leave first
			w.log = w.log[1:]
			w.total--
		}
		w.log = append(w.log, entry{t, 1})
		w.total++
	}
}

// idle says whether the window limits nothing: no send logged or in
// flight.
func (w *window) idle() bool {
	w.since()
	return w.total == 0 && w.open == 0
}

// resize returns the window of another spec for the same subscription,
// keeping the sends logged and in flight: lowering a limit right after a
// burst holds the next sends back as the new limit says.
func (w *window) resize(spec string) (*window, bool) {
	nw, ok := newWindow(spec, w.now)
	if !ok {
		return nil, false
	}
	nw.epoch, nw.open = w.epoch, w.open
	w.since()
	for _, e := range w.log {
		nw.add(e.at, e.count)
	}
	return nw, true
}

// ceilTo rounds t up to a multiple of q.
func ceilTo(t, q time.Duration) time.Duration {
	if r := t % q; r > 0 {
		return t + q - r
	} else if r < 0 {
		return t - r
	}
	return t
}
