package natsstore

import (
	"sync"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// recent keeps, bounded, what this node wrote and reads again soon: the
// events it committed (a claim sends them) and the records of the
// deliveries it claimed (their result updates them), so that a claim and
// a result are one write each rather than reads and a write. An event
// never changes; a record kept may be stale (another node or an admin
// call wrote it), which costs a failed compare-and-set, then a read.
type recent struct {
	mu      sync.Mutex
	events  map[string]recentEvent
	order   []string // event ids, oldest first, to evict
	records map[string]stored
}

type recentEvent struct {
	ev    *webhook.Event
	until time.Time // its retention's end; zero: none
}

// Bounds of recent: about 1 KB an event, a few hundred bytes a record.
const (
	recentEvents  = 8192
	recentRecords = 8192
)

func newRecent() *recent {
	return &recent{events: map[string]recentEvent{}, records: map[string]stored{}}
}

// committed keeps events just committed, with their retention.
func (r *recent) committed(events []webhook.Event, at time.Time, retention time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var until time.Time
	if retention > 0 {
		until = at.Add(retention)
	}
	for i := range events {
		ev := events[i]
		if _, ok := r.events[ev.ID]; ok {
			continue
		}
		r.events[ev.ID] = recentEvent{ev: &ev, until: until}
		r.order = append(r.order, ev.ID)
	}
	for len(r.order) > recentEvents {
		delete(r.events, r.order[0])
		r.order = r.order[1:]
	}
}

// event returns a kept event not past its retention, or nil.
func (r *recent) event(id string, now time.Time) *webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.events[id]
	if !ok || (!e.until.IsZero() && !now.Before(e.until)) {
		return nil
	}
	return e.ev
}

// wrote keeps the record of a pending delivery as written at rev, or
// forgets the delivery once it is no longer pending (a finished record's
// expiry, which Wh-Was carries, is known only from the record read).
func (r *recent) wrote(d *webhook.Delivery, rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.Status != webhook.Pending || rev == 0 {
		delete(r.records, d.ID)
		return
	}
	if len(r.records) >= recentRecords {
		clear(r.records) // claims that were never updated: rare
	}
	r.records[d.ID] = stored{d: copyDelivery(d), rev: rev}
}

// record returns a copy of a kept record, to be changed and written.
func (r *recent) record(id string) (stored, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.records[id]
	if !ok {
		return stored{}, false
	}
	return stored{d: copyDelivery(st.d), rev: st.rev}, true
}

// forget drops a record found stale.
func (r *recent) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.records, id)
}

// copyDelivery copies what fn may change in place.
func copyDelivery(d *webhook.Delivery) *webhook.Delivery {
	c := *d
	c.Attempts = make([]webhook.Attempt, len(d.Attempts))
	copy(c.Attempts, d.Attempts)
	if d.NextAttemptAt != nil {
		t := *d.NextAttemptAt
		c.NextAttemptAt = &t
	}
	return &c
}
