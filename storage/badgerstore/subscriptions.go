package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

var prefixSubscription = []byte("s/")

// PutSubscription stores sub, creating or replacing it.
func (s *Store) PutSubscription(ctx context.Context, sub *webhook.Subscription) error {
	err := s.write(ctx, subscriptionSize, func() error {
		if err := s.db.Update(func(txn *badger.Txn) error { return putSubscription(txn, sub) }); err != nil {
			return err
		}
		return s.syncCommitted()
	})
	if err == nil {
		err = s.refreshSubscriptions()
	}
	return err
}

// ActiveSubscriptions returns the active subscriptions from the in-memory
// snapshot, without reading the store; they are shared: read only.
func (s *Store) ActiveSubscriptions() []*webhook.Subscription {
	var out []*webhook.Subscription
	for _, sub := range *s.subs.Load() {
		if sub.IsActive {
			out = append(out, sub)
		}
	}
	return out
}

// knownSubscriptions returns the in-memory snapshot by id (shared: read
// only).
func (s *Store) knownSubscriptions() map[string]*webhook.Subscription {
	subs := *s.subs.Load()
	out := make(map[string]*webhook.Subscription, len(subs))
	for _, sub := range subs {
		out[sub.ID] = sub
	}
	return out
}

// refreshSubscriptions reloads the snapshot that fan-out reads, whatever
// the context of the write that made it stale.
func (s *Store) refreshSubscriptions() error {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	subs, err := s.Subscriptions(context.Background())
	if err != nil {
		return err
	}
	s.subs.Store(&subs)
	return nil
}

func putSubscription(txn *badger.Txn, sub *webhook.Subscription) error {
	val, err := json.Marshal(sub) //nolint:gosec // G117: the store keeps the secret to sign with
	if err != nil {
		return fmt.Errorf("encoding subscription %s: %w", sub.ID, err)
	}
	return txn.Set(key(prefixSubscription, sub.ID), val)
}

func getSubscription(txn *badger.Txn, id string) (*webhook.Subscription, error) {
	item, err := txn.Get(key(prefixSubscription, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("subscription %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	sub := new(webhook.Subscription)
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, sub) }); err != nil {
		return nil, fmt.Errorf("decoding subscription %s: %w", id, err)
	}
	return sub, nil
}

// Subscription returns one subscription, or an error wrapping ErrNotFound.
func (s *Store) Subscription(ctx context.Context, id string) (*webhook.Subscription, error) {
	var sub *webhook.Subscription
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) (err error) {
			sub, err = getSubscription(txn, id)
			return err
		})
	})
	return sub, err
}

// Subscriptions returns every subscription, oldest first.
func (s *Store) Subscriptions(ctx context.Context) ([]*webhook.Subscription, error) {
	var subs []*webhook.Subscription
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSubscription, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				sub := new(webhook.Subscription)
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, sub) }); err != nil {
					return fmt.Errorf("decoding %s: %w", it.Item().Key(), err)
				}
				subs = append(subs, sub)
			}
			return nil
		})
	})
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].CreatedAt.Before(subs[j].CreatedAt) })
	return subs, err
}

// UpdateSubscription applies fn to the stored subscription and stores the
// result, atomically: a concurrent update makes Badger report a conflict,
// and fn runs again on the fresh record. An error from fn aborts.
func (s *Store) UpdateSubscription(ctx context.Context, id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error) {
	var out *webhook.Subscription
	err := s.update(ctx, subscriptionSize, func(txn *badger.Txn) error {
		sub, err := getSubscription(txn, id)
		if err != nil {
			return err
		}
		if err := fn(sub); err != nil {
			return err
		}
		out = sub
		return putSubscription(txn, sub)
	})
	if err == nil {
		err = s.use(context.WithoutCancel(ctx), s.syncCommitted)
	}
	if err == nil {
		s.replaceInSnapshot(out)
	}
	return out, err
}

// replaceInSnapshot puts an updated subscription in the fan-out snapshot
// without reading the others again (stats change on every delivery).
// Concurrent updates get here in any order, not the order they committed
// in: the record is read again under subsMu, so that the last one here
// leaves the last committed version, not its own (a pause overwritten by
// the stats update it raced with would keep the subscription receiving).
// updated, the version this update stored, stands in if that read fails.
func (s *Store) replaceInSnapshot(updated *webhook.Subscription) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	sub, err := s.Subscription(context.Background(), updated.ID)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		sub = nil // deleted since: a delete's refresh left it out already
	case err != nil:
		sub = updated
	}
	old := *s.subs.Load()
	next := make([]*webhook.Subscription, 0, len(old))
	for _, cur := range old {
		if cur.ID == updated.ID {
			if sub == nil {
				continue
			}
			cur = sub
		}
		next = append(next, cur)
	}
	s.subs.Store(&next)
}

// DeleteSubscription removes a subscription and cancels its pending
// deliveries, or returns an error wrapping ErrNotFound. The record goes
// first, durably, in a transaction of its own; the deliveries are
// cancelled after, in batches (a backlog is more than one transaction may
// hold). Meanwhile a claim cancels those it finds rather than send them
// (claimScan); should the process stop before the end, the orphan sweep
// cancels the rest (cancelOrphans).
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if err := s.removeSubscription(ctx, id); err != nil {
		return err
	}
	// Run to the end even if the caller goes: the subscription is gone.
	if n, err := s.cancelDue(context.WithoutCancel(ctx), subscriptionDue(id)); err != nil {
		// Deleted all the same, and nothing of it is sent: the sweep
		// cancels the rest once the store takes writes again.
		s.logger.Warn("cancelling the deliveries of a deleted subscription; the sweep finishes",
			zap.String("subscription", id), zap.Int("cancelled", n), zap.Error(err))
	}
	return nil
}

// removeSubscription deletes a subscription's record, durably. It takes
// the subscription out of the fan-out snapshot first, and holds subsMu
// until the delete has committed so that no refresh puts it back: a claim
// whose transaction starts after that commit reads the snapshot after it
// too (claimDue), finds the subscription in neither, and cancels its
// deliveries instead of sending them.
func (s *Store) removeSubscription(ctx context.Context, id string) error {
	s.subsMu.Lock()
	old := s.subs.Load()
	rest := make([]*webhook.Subscription, 0, len(*old))
	for _, sub := range *old {
		if sub.ID != id {
			rest = append(rest, sub)
		}
	}
	s.subs.Store(&rest)
	err := s.update(ctx, subscriptionSize, func(txn *badger.Txn) error {
		if _, err := getSubscription(txn, id); err != nil {
			return err
		}
		return txn.Delete(key(prefixSubscription, id))
	})
	if err != nil {
		s.subs.Store(old) // not deleted: nothing else changed it meanwhile (subsMu)
	}
	s.subsMu.Unlock()
	if err != nil {
		return err
	}
	return s.use(context.WithoutCancel(ctx), s.syncCommitted)
}

// Count counts the stored events, subscriptions, deliveries by state, and
// the queue depth (pending deliveries).
func (s *Store) Count(ctx context.Context) (webhook.Counts, error) {
	c := webhook.Counts{Deliveries: map[string]int64{webhook.Pending: 0, webhook.Succeeded: 0, webhook.Failed: 0, webhook.Cancelled: 0}}
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) error {
			c.Events = countKeys(txn, prefixEvent)
			c.QueueDepth = countPending(txn)
			for _, pf := range []struct {
				prefix []byte
				fn     func([]byte) error
			}{
				{prefixSubscription, func(v []byte) error {
					var sub struct {
						IsActive bool `json:"is_active"`
					}
					c.Subscriptions++
					err := json.Unmarshal(v, &sub)
					if sub.IsActive {
						c.Active++
					}
					return err
				}},
				{prefixDelivery, func(v []byte) error {
					var d struct {
						Status string `json:"status"`
					}
					err := json.Unmarshal(v, &d)
					c.Deliveries[d.Status]++
					return err
				}},
			} {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: pf.prefix, PrefetchValues: true})
				for it.Rewind(); it.Valid(); it.Next() {
					if err := it.Item().Value(pf.fn); err != nil {
						it.Close()
						return err
					}
				}
				it.Close()
			}
			return nil
		})
	})
	return c, err
}

// countKeys counts the keys under prefix without reading values.
func countKeys(txn *badger.Txn, prefix []byte) int64 {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var n int64
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}
