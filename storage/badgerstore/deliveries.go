package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

var (
	prefixDelivery = []byte("d/")
	prefixDue      = []byte("q/")
	prefixBySub    = []byte("x/")
)

// dueKey is q/<subscription id>/<unix nanos, big-endian>/<delivery id>:
// each subscription has its own run of keys sorted by due time, so a claim
// takes what one subscription may send next without walking past the
// backlog of another (a dead subscriber's) or the deletion markers of
// deliveries already claimed. id is empty for a seek bound.
func dueKey(subID string, t time.Time, id string) []byte {
	var ns uint64
	if t.After(time.Unix(0, 0)) { // UnixNano is undefined for the zero time
		ns = uint64(t.UnixNano())
	}
	k := make([]byte, 0, len(prefixDue)+len(subID)+1+8+1+len(id))
	k = append(append(append(k, prefixDue...), subID...), '/')
	k = binary.BigEndian.AppendUint64(k, ns)
	k = append(k, '/')
	return append(k, id...)
}

// dueKeyOf is d's key in the due index.
func dueKeyOf(d *webhook.Delivery, t time.Time) []byte { return dueKey(d.SubscriptionID, t, d.ID) }

// dueIn returns the due time and delivery id of a due key of the
// subscription whose key prefix (q/<subscription id>/) is prefix.
func dueIn(prefix, k []byte) (time.Time, string) {
	ns := binary.BigEndian.Uint64(k[len(prefix):])
	return time.Unix(0, int64(ns)), string(k[len(prefix)+9:]) //nolint:gosec // G115: dueKey wrote a non-negative int64
}

// dueNotes collects what a transaction does to the queue. due: the
// earliest due time it gives each subscription's deliveries; once the
// transaction has committed the store passes them on to the dispatcher
// (dueHints), whose scans start where they left off unless a note says a
// delivery became due before that. handed: the deliveries a commit leased
// to taker (storage.HandOff), given to it once the commit is durable.
type dueNotes struct {
	due    dueTimes
	taker  storage.Taker
	handed []webhook.Claim
	held   map[string]int // handed, by subscription id
	// queued is the transaction's change to the due index (keys added less
	// keys removed), added to the queue depth once it has committed.
	queued int64
}

// hand notes a delivery leased to the taker.
func (n *dueNotes) hand(c webhook.Claim) {
	if n.held == nil {
		n.held = map[string]int{}
	}
	n.handed = append(n.handed, c)
	n.held[c.Sub.ID]++
}

// dueTimes are the earliest due times per subscription.
type dueTimes map[string]time.Time

func (t dueTimes) add(subID string, at time.Time) {
	if cur, ok := t[subID]; !ok || at.Before(cur) {
		t[subID] = at
	}
}

// add notes a due time; n may be nil (a claim's lease needs no note).
func (n *dueNotes) add(subID string, t time.Time) {
	if n == nil {
		return
	}
	if n.due == nil {
		n.due = dueTimes{}
	}
	n.due.add(subID, t)
}

func bySubKey(subID, deliveryID string) []byte {
	return []byte(string(prefixBySub) + subID + "/" + deliveryID)
}

func getDelivery(txn *badger.Txn, id string) (*webhook.Delivery, error) {
	item, err := txn.Get(key(prefixDelivery, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("delivery %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	d := new(webhook.Delivery)
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, d) }); err != nil {
		return nil, fmt.Errorf("decoding delivery %s: %w", id, err)
	}
	return d, nil
}

// putDelivery writes d and keeps its indexes in step: the due index holds
// pending deliveries only, at their NextAttemptAt; old is the record as it
// was (nil for a new one). Finished deliveries expire after retention. New
// due times go into notes (which may be nil: a claim's lease needs none);
// the change to the due index's size into queued (see queueDepth).
//
// The queue depth counts the pending deliveries: those in the due index
// and those waiting their turn in an order line (order.go).
func putDelivery(txn *badger.Txn, old, d *webhook.Delivery, retention time.Duration, notes *dueNotes, queued *int64) error {
	if err := keepLine(txn, old, d, retention, notes, queued); err != nil {
		return fmt.Errorf("delivery %s: keeping its order: %w", d.ID, err)
	}
	if old != nil && old.Status == webhook.Pending {
		if old.NextAttemptAt != nil {
			if err := txn.Delete(dueKeyOf(d, *old.NextAttemptAt)); err != nil {
				return err
			}
		}
		*queued--
	}
	val, err := d.AppendJSON(make([]byte, 0, deliveryJSONSize))
	if err != nil {
		return fmt.Errorf("encoding delivery %s: %w", d.ID, err)
	}
	rec := badger.NewEntry(key(prefixDelivery, d.ID), val)
	idx := badger.NewEntry(bySubKey(d.SubscriptionID, d.ID), nil)
	switch {
	case d.Status == webhook.Pending && d.Waiting:
		*queued++
	case d.Status == webhook.Pending:
		if d.NextAttemptAt == nil {
			return fmt.Errorf("delivery %s: pending without a due time", d.ID)
		}
		if err := txn.Set(dueKeyOf(d, *d.NextAttemptAt), nil); err != nil {
			return err
		}
		*queued++
		notes.add(d.SubscriptionID, *d.NextAttemptAt)
	case retention > 0:
		rec, idx = rec.WithTTL(retention), idx.WithTTL(retention)
	}
	if err := txn.SetEntry(rec); err != nil {
		return err
	}
	if old != nil && old.Status == webhook.Pending && d.Status == webhook.Pending {
		// A claim or a new due time: the index entry is there, without
		// an expiry, and stays so; writing it again only adds to what
		// Badger flushes and compacts.
		return nil
	}
	return txn.SetEntry(idx)
}

// fanOut creates, in txn, a delivery of ev for each subscription that
// wants it: due now, or leased to the notes' taker if it has room (then
// noted as handed, not as due: nothing is there to claim). notes is not
// nil: it counts the deliveries queued either way.
func fanOut(txn *badger.Txn, subs []*webhook.Subscription, ev *webhook.Event, now time.Time, notes *dueNotes) error {
	var handedEv *webhook.Event    // one copy for every claim of ev: the caller's may change
	env := payload.NewEnvelope(ev) // decoded once for every filter
	for _, sub := range subs {
		if !sub.IsActive || !env.Receives(sub) {
			continue
		}
		d, err := fanOutDelivery(txn, sub, ev, now)
		if err != nil {
			return err
		}
		var lease time.Duration
		leased := notes.taker != nil && !d.Waiting
		if leased {
			lease, leased = notes.taker.Room(sub, notes.held[sub.ID])
		}
		if leased {
			due := now.Add(lease)
			d.NextAttemptAt = &due
		}
		if !leased {
			if err := putDelivery(txn, nil, d, 0, notes, &notes.queued); err != nil {
				return err
			}
			continue
		}
		if err := putDelivery(txn, nil, d, 0, nil, &notes.queued); err != nil {
			return err
		}
		if handedEv == nil {
			c := *ev
			handedEv = &c
		}
		notes.hand(webhook.Claim{Delivery: d, Event: handedEv, Sub: sub})
	}
	return nil
}

// fanOutDelivery makes a delivery of ev to sub, due now, or waiting at
// the end of its order line (order.go) when it has one.
func fanOutDelivery(txn *badger.Txn, sub *webhook.Subscription, ev *webhook.Event, now time.Time) (*webhook.Delivery, error) {
	d := webhook.NewDelivery(sub, ev, now)
	if d.OrderKey = webhook.OrderedBy(sub, ev); d.OrderKey == "" {
		return d, nil
	}
	return d, joinLine(txn, d)
}

// Delivery returns one delivery, or an error wrapping ErrNotFound.
func (s *Store) Delivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	var d *webhook.Delivery
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) (err error) {
			d, err = getDelivery(txn, id)
			return err
		})
	})
	return d, err
}

// scan asks claimDue for the due deliveries of one subscription.
type scan struct {
	SubID string
	From  time.Time // where the subscription's due index is read from
	Max   int       // how many deliveries to claim at most

	// Set by claimDue:
	Scanned bool      // false when the budget ran out before this scan
	Claimed int       // how many were claimed
	Resume  time.Time // when Max cut the scan short: the due time of the first delivery left; zero otherwise
	Next    time.Time // the due time of the first delivery due after now, zero if none
}

// claimDue claims, for each scan in turn, up to Max deliveries of its
// subscription due between From and now, at most budget in all, and moves each one's due time to now+lease: if
// the process dies during the attempt, the delivery becomes due again then
// (at least once). Deliveries whose subscription or event is gone are
// cancelled on the way.
func (s *Store) claimDue(ctx context.Context, now time.Time, lease time.Duration, budget int, scans []scan) ([]webhook.Claim, error) {
	var claims []webhook.Claim
	var notes *dueNotes // of the order lines that cancellations move on
	retention := s.config().Retention
	err := s.update(ctx, budget*deliverySize, func(txn *badger.Txn) error {
		claims, notes = claims[:0], &dueNotes{}
		// Read once the transaction has started: a subscription deleted
		// before is out of the snapshot already (removeSubscription).
		known := s.knownSubscriptions()
		for i := range scans {
			sc := &scans[i]
			sc.Scanned, sc.Claimed, sc.Resume, sc.Next = false, 0, time.Time{}, time.Time{}
			if len(claims) >= budget {
				continue
			}
			got, err := claimScan(txn, sc, known[sc.SubID], min(sc.Max, budget-len(claims)), now, lease, retention, notes)
			if err != nil {
				return err
			}
			claims = append(claims, got...)
		}
		return nil
	})
	if err == nil {
		s.queued.Add(notes.queued)
		s.noteDue(notes)
	}
	return claims, err
}

// lookahead is how many deleted keys past now a claim scan reads, looking
// for when the next delivery is due, before it gives up. Past now are
// mostly the deletion markers of leases: a delivery being attempted is due
// again at now+lease, and that key is deleted once the attempt is
// recorded; a scan that walked them all would read every delivery made in
// the last lease's time, at each claim.
const lookahead = 64

// claimScan does one scan of claimDue in txn. known is its subscription as
// the store's snapshot has it (nil: read it from txn); the deliveries of a
// subscription that is in neither are cancelled, never claimed. queued
// counts the change to the due index.
func claimScan(txn *badger.Txn, sc *scan, known *webhook.Subscription, most int, now time.Time, lease time.Duration, retention time.Duration, notes *dueNotes) ([]webhook.Claim, error) {
	queued := &notes.queued
	sc.Scanned = true
	prefix := dueKey(sc.SubID, time.Time{}, "")[:len(prefixDue)+len(sc.SubID)+1]
	// Read the keys first: the claims below write into the range. Every
	// version is read, deletion markers included, so that the scan can
	// stop after lookahead of them past now (see lookahead).
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true})
	type due struct {
		key []byte
		id  string
	}
	var found []due
	var last []byte
	past := 0
	for it.Seek(dueKey(sc.SubID, sc.From, "")); it.Valid(); it.Next() {
		item := it.Item()
		if bytes.Equal(item.Key(), last) {
			continue // an older version of a key seen
		}
		last = item.KeyCopy(last[:0])
		at, id := dueIn(prefix, last)
		gone := item.IsDeletedOrExpired()
		if at.After(now) {
			if !gone {
				sc.Next = at
				break
			}
			if past++; past == lookahead {
				break // when the next is due is not known: the caller looks again soon
			}
			continue
		}
		if gone {
			continue
		}
		if len(found) == most {
			sc.Resume = at
			break
		}
		found = append(found, due{bytes.Clone(last), id})
	}
	it.Close()
	var claims []webhook.Claim
	if len(found) == 0 {
		return nil, nil
	}
	sub, subErr := known, error(nil) // every delivery's
	if sub == nil {
		sub, subErr = getSubscription(txn, sc.SubID)
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.id
	}
	records, events, err := getClaimed(txn, ids)
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		d := records[f.id]
		if d == nil { // expired under its index key
			if err := txn.Delete(f.key); err != nil {
				return nil, err
			}
			*queued--
			continue
		}
		ev := events[d.EventID]
		old := *d
		if subErr != nil || ev == nil {
			d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.Cancelled, nil, now
			if err := putDelivery(txn, &old, d, retention, notes, queued); err != nil {
				return nil, err
			}
			continue
		}
		until := now.Add(lease)
		d.NextAttemptAt = &until
		if err := putDelivery(txn, &old, d, retention, nil, queued); err != nil {
			return nil, err
		}
		evCopy := *ev // a delivery's event may be another's (a redelivery)
		claims = append(claims, webhook.Claim{Delivery: d, Event: &evCopy, Sub: sub})
		sc.Claimed++
	}
	return claims, nil
}

// getClaimed reads the records of the deliveries ids and of their events
// (readSorted); those missing, and events that do not decode, are left
// out of the maps.
func getClaimed(txn *badger.Txn, ids []string) (map[string]*webhook.Delivery, map[string]*webhook.Event, error) {
	records := make(map[string]*webhook.Delivery, len(ids))
	evIDs := make([]string, 0, len(ids))
	err := readSorted(txn, prefixDelivery, ids, func(id string, item *badger.Item) error {
		d := new(webhook.Delivery)
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, d) }); err != nil {
			return fmt.Errorf("decoding delivery %s: %w", id, err)
		}
		records[id] = d
		evIDs = append(evIDs, d.EventID)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	events := make(map[string]*webhook.Event, len(evIDs))
	err = readSorted(txn, prefixEvent, evIDs, func(id string, item *badger.Item) error {
		ev := new(webhook.Event)
		if item.Value(func(v []byte) error { return json.Unmarshal(v, ev) }) == nil {
			events[id] = ev
		}
		return nil
	})
	return records, events, err
}

// UpdateDelivery applies fn to the stored delivery in a transaction; the
// indexes follow the delivery's new state.
func (s *Store) UpdateDelivery(ctx context.Context, id string, fn func(d *webhook.Delivery) error) (*webhook.Delivery, error) {
	var out *webhook.Delivery
	var notes *dueNotes
	retention := s.config().Retention
	err := s.update(ctx, deliverySize, func(txn *badger.Txn) error {
		notes = &dueNotes{}
		d, err := getDelivery(txn, id)
		if err != nil {
			return err
		}
		old := *d
		if err := fn(d); err != nil {
			return err
		}
		out = d
		return putDelivery(txn, &old, d, retention, notes, &notes.queued)
	})
	if err == nil {
		s.queued.Add(notes.queued)
		s.noteDue(notes)
	}
	return out, err
}

// Deliveries returns a subscription's deliveries, newest first, with the
// given status ("" for all), at most limit.
func (s *Store) Deliveries(ctx context.Context, subID, status string, limit int) ([]*webhook.Delivery, error) {
	var out []*webhook.Delivery
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) error {
			prefix := bySubKey(subID, "")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
			defer it.Close()
			for it.Seek(append(append([]byte{}, prefix...), 0xff)); it.Valid() && len(out) < limit; it.Next() {
				if err := ctx.Err(); err != nil {
					return err // a long list, of one status, filtered from many
				}
				id := string(it.Item().Key()[len(prefix):])
				d, err := getDelivery(txn, id)
				if errors.Is(err, webhook.ErrNotFound) {
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
func (s *Store) AddDeliveries(ctx context.Context, sub *webhook.Subscription, events []webhook.Event) (int, error) {
	n := 0
	notes := &dueNotes{}
	err := s.write(ctx, len(events)*deliverySize, func() error {
		return s.db.Update(func(txn *badger.Txn) error {
			now := time.Now().UTC()
			for i := range events {
				d := webhook.NewDelivery(sub, &events[i], now) // a replay is not ordered
				if err := putDelivery(txn, nil, d, 0, notes, &notes.queued); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	})
	if err == nil {
		s.queued.Add(notes.queued)
		s.noteDue(notes)
	}
	return n, err
}
