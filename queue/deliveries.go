package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var (
	prefixDelivery = []byte("d/")
	prefixDue      = []byte("q/")
	prefixBySub    = []byte("x/")
)

// dueKey is q/<unix nanos, big-endian>/<subscription id>/<delivery id>:
// keys sort by due time, and a claim can skip a subscription's deliveries
// without reading them. rest is "<subscription id>/<delivery id>", or a
// bound for seeks.
func dueKey(t time.Time, rest string) []byte {
	var ns uint64
	if t.After(time.Unix(0, 0)) { // UnixNano is undefined for the zero time
		ns = uint64(t.UnixNano())
	}
	k := make([]byte, 0, len(prefixDue)+8+1+len(rest))
	k = append(k, prefixDue...)
	k = binary.BigEndian.AppendUint64(k, ns)
	k = append(k, '/')
	return append(k, rest...)
}

// dueRest is the "<subscription id>/<delivery id>" part of d's due key.
func dueRest(d *Delivery) string { return d.SubscriptionID + "/" + d.ID }

// parseDueKey returns the subscription and delivery ids of a due key.
func parseDueKey(k []byte) (subID, id string) {
	subID, id, _ = strings.Cut(string(k[len(prefixDue)+9:]), "/")
	return subID, id
}

func bySubKey(subID, deliveryID string) []byte {
	return []byte(string(prefixBySub) + subID + "/" + deliveryID)
}

func getDelivery(txn *badger.Txn, id string) (*Delivery, error) {
	item, err := txn.Get(key(prefixDelivery, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	d := new(Delivery)
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, d) }); err != nil {
		return nil, fmt.Errorf("decoding delivery %s: %w", id, err)
	}
	return d, nil
}

// putDelivery writes d and keeps its indexes in step: the due index holds
// pending deliveries only, at their NextAttemptAt; old is the record as it
// was (nil for a new one). Finished deliveries expire after retention.
func putDelivery(txn *badger.Txn, old, d *Delivery, retention time.Duration) error {
	if old != nil && old.NextAttemptAt != nil {
		if err := txn.Delete(dueKey(*old.NextAttemptAt, dueRest(d))); err != nil {
			return err
		}
	}
	val, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding delivery %s: %w", d.ID, err)
	}
	rec := badger.NewEntry(key(prefixDelivery, d.ID), val)
	idx := badger.NewEntry(bySubKey(d.SubscriptionID, d.ID), nil)
	if d.Status == Pending {
		if d.NextAttemptAt == nil {
			return fmt.Errorf("delivery %s: pending without a due time", d.ID)
		}
		if err := txn.Set(dueKey(*d.NextAttemptAt, dueRest(d)), nil); err != nil {
			return err
		}
	} else if retention > 0 {
		rec, idx = rec.WithTTL(retention), idx.WithTTL(retention)
	}
	if err := txn.SetEntry(rec); err != nil {
		return err
	}
	return txn.SetEntry(idx)
}

// fanOut creates, in txn, a due-now delivery of ev for each subscription
// that wants it.
func fanOut(txn *badger.Txn, subs []*Subscription, ev *Event, now time.Time) (int, error) {
	n := 0
	for _, sub := range subs {
		if !sub.IsActive || !sub.Wants(ev.Name) || !sub.AcceptsSite(ev.Site) {
			continue
		}
		due := now
		d := &Delivery{
			ID: NewID("dlv_", now), EventID: ev.ID, Event: ev.Name, SubscriptionID: sub.ID,
			Status: Pending, Attempts: []Attempt{}, NextAttemptAt: &due, CreatedAt: now, UpdatedAt: now,
		}
		if err := putDelivery(txn, nil, d, 0); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Delivery returns one delivery, or an error wrapping ErrNotFound.
func (s *Store) Delivery(id string) (*Delivery, error) {
	var d *Delivery
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) (err error) {
			d, err = getDelivery(txn, id)
			return err
		})
	})
	return d, err
}

// Claim holds a delivery claimed for an attempt.
type Claim struct {
	Delivery *Delivery
	Event    *Event
	Sub      *Subscription
}

// ClaimDue takes up to n deliveries due at or before now for which accept
// (given the delivery's subscription id) is true, and moves each one's due
// time to now+lease: if the process dies during the attempt, the delivery
// becomes due again then (at least once). Deliveries whose subscription or
// event is gone are cancelled on the way.
//
// The scan starts at from: claimed keys leave deletion markers at the front
// of the due index until compaction, and walking them on every call would
// cost more as the queue drains. It returns resume, the due time of the
// first due delivery it left (not accepted, or past n), or zero: nothing is
// inserted before the present, so a later call may start there.
func (s *Store) ClaimDue(from, now time.Time, lease time.Duration, n int, accept func(subID string) bool, retention time.Duration) (claims []Claim, resume time.Time, err error) {
	left := func(k []byte) {
		if t := dueTime(k); resume.IsZero() || t.Before(resume) {
			resume = t
		}
	}
	err = s.use(func() error {
		return retryConflicts(func() error {
			claims, resume = claims[:0], time.Time{}
			return s.db.Update(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixDue})
				limit := dueKey(now, "\xff")
				maxKeys := 4*n + 64
				var keys [][]byte
				for it.Seek(dueKey(from, "")); it.Valid() && len(keys) < maxKeys; it.Next() {
					k := it.Item().KeyCopy(nil)
					if string(k) > string(limit) {
						break
					}
					keys = append(keys, k)
				}
				it.Close()
				if len(keys) == maxKeys {
					left(keys[len(keys)-1]) // there may be more after it
				}
				for _, k := range keys {
					if len(claims) == n {
						left(k)
						break
					}
					subID, id := parseDueKey(k)
					if !accept(subID) {
						left(k) // at its subscription's cap: not even read
						continue
					}
					d, err := getDelivery(txn, id)
					if errors.Is(err, ErrNotFound) {
						if err := txn.Delete(k); err != nil {
							return err
						}
						continue
					}
					if err != nil {
						return err
					}
					sub, subErr := getSubscription(txn, d.SubscriptionID)
					ev, evErr := getEvent(txn, d.EventID)
					old := *d
					if subErr != nil || evErr != nil {
						d.Status, d.NextAttemptAt, d.UpdatedAt = Cancelled, nil, now
						if err := putDelivery(txn, &old, d, retention); err != nil {
							return err
						}
						continue
					}
					until := now.Add(lease)
					d.NextAttemptAt = &until
					if err := putDelivery(txn, &old, d, retention); err != nil {
						return err
					}
					claims = append(claims, Claim{Delivery: d, Event: ev, Sub: sub})
				}
				return nil
			})
		})
	})
	return claims, resume, err
}

// dueTime reads the due time out of a due-index key.
func dueTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefixDue):])))
}

func getEvent(txn *badger.Txn, id string) (*Event, error) {
	item, err := txn.Get(key(prefixEvent, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	ev := new(Event)
	return ev, item.Value(func(v []byte) error { return json.Unmarshal(v, ev) })
}

// NextDue returns when the earliest pending delivery due at or after from
// is due. Like ClaimDue, it starts at from rather than at the front of the
// due index, where deletion markers pile up until compaction.
func (s *Store) NextDue(from time.Time) (time.Time, bool) {
	var t time.Time
	var ok bool
	_ = s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixDue})
			defer it.Close()
			it.Seek(dueKey(from, ""))
			if it.Valid() {
				k := it.Item().Key()
				t, ok = dueTime(k), true
			}
			return nil
		})
	})
	return t, ok
}

// UpdateDelivery applies fn to the stored delivery in a transaction; the
// indexes follow the delivery's new state.
func (s *Store) UpdateDelivery(id string, retention time.Duration, fn func(d *Delivery) error) (*Delivery, error) {
	var out *Delivery
	err := s.use(func() error {
		return retryConflicts(func() error {
			return s.db.Update(func(txn *badger.Txn) error {
				d, err := getDelivery(txn, id)
				if err != nil {
					return err
				}
				old := *d
				if err := fn(d); err != nil {
					return err
				}
				out = d
				return putDelivery(txn, &old, d, retention)
			})
		})
	})
	if err == nil && out.Status == Pending {
		s.wake()
	}
	return out, err
}

// Deliveries returns a subscription's deliveries, newest first, with the
// given status ("" for all), at most limit.
func (s *Store) Deliveries(subID, status string, limit int) ([]*Delivery, error) {
	var out []*Delivery
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			prefix := bySubKey(subID, "")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
			defer it.Close()
			for it.Seek(append(append([]byte{}, prefix...), 0xff)); it.Valid() && len(out) < limit; it.Next() {
				id := string(it.Item().Key()[len(prefix):])
				d, err := getDelivery(txn, id)
				if errors.Is(err, ErrNotFound) {
					continue // expired
				}
				if err != nil {
					return err
				}
				if status == "" || d.Status == status {
					out = append(out, d)
				}
			}
			return nil
		})
	})
	return out, err
}

// AddDeliveries creates a due-now delivery of each event for subscription
// sub (a replay), in one transaction.
func (s *Store) AddDeliveries(sub *Subscription, events []Event) (int, error) {
	n := 0
	err := s.use(func() error {
		return s.db.Update(func(txn *badger.Txn) error {
			now := time.Now().UTC()
			for i := range events {
				due := now
				d := &Delivery{
					ID: NewID("dlv_", now), EventID: events[i].ID, Event: events[i].Name, SubscriptionID: sub.ID,
					Status: Pending, Attempts: []Attempt{}, NextAttemptAt: &due, CreatedAt: now, UpdatedAt: now,
				}
				if err := putDelivery(txn, nil, d, 0); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	})
	if err == nil && n > 0 {
		s.wake()
	}
	return n, err
}

// retryConflicts runs fn again while Badger reports a conflict with a
// concurrent transaction.
func retryConflicts(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
}

// QueueDepth counts the pending deliveries.
func (s *Store) QueueDepth() int64 {
	var n int64
	_ = s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			n = countKeys(txn, prefixDue)
			return nil
		})
	})
	return n
}
