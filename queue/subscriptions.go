package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"
)

var prefixSubscription = []byte("s/")

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("not found")

// PutSubscription stores sub, creating or replacing it.
func (s *Store) PutSubscription(sub *Subscription) error {
	return s.use(func() error {
		return s.db.Update(func(txn *badger.Txn) error { return putSubscription(txn, sub) })
	})
}

func putSubscription(txn *badger.Txn, sub *Subscription) error {
	val, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encoding subscription %s: %w", sub.ID, err)
	}
	return txn.Set(key(prefixSubscription, sub.ID), val)
}

func getSubscription(txn *badger.Txn, id string) (*Subscription, error) {
	item, err := txn.Get(key(prefixSubscription, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("subscription %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	sub := new(Subscription)
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, sub) }); err != nil {
		return nil, fmt.Errorf("decoding subscription %s: %w", id, err)
	}
	return sub, nil
}

// Subscription returns one subscription, or an error wrapping ErrNotFound.
func (s *Store) Subscription(id string) (*Subscription, error) {
	var sub *Subscription
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) (err error) {
			sub, err = getSubscription(txn, id)
			return err
		})
	})
	return sub, err
}

// Subscriptions returns every subscription, oldest first.
func (s *Store) Subscriptions() ([]*Subscription, error) {
	var subs []*Subscription
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSubscription, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				sub := new(Subscription)
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
func (s *Store) UpdateSubscription(id string, fn func(*Subscription) error) (*Subscription, error) {
	var out *Subscription
	err := s.use(func() error {
		for {
			err := s.db.Update(func(txn *badger.Txn) error {
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
			if !errors.Is(err, badger.ErrConflict) {
				return err
			}
		}
	})
	return out, err
}

// DeleteSubscription removes a subscription, or returns an error wrapping
// ErrNotFound.
func (s *Store) DeleteSubscription(id string) error {
	return s.use(func() error {
		return s.db.Update(func(txn *badger.Txn) error {
			if _, err := getSubscription(txn, id); err != nil {
				return err
			}
			return txn.Delete(key(prefixSubscription, id))
		})
	})
}

// Counts are the numbers behind the stats route.
type Counts struct {
	Events        int64 `json:"events"`
	Subscriptions int64 `json:"subscriptions"`
	Active        int64 `json:"active_subscriptions"`
}

// Count counts the stored events and subscriptions (keys only, no values
// for events).
func (s *Store) Count() (Counts, error) {
	var c Counts
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixEvent})
			for it.Rewind(); it.Valid(); it.Next() {
				c.Events++
			}
			it.Close()
			subs := txn.NewIterator(badger.IteratorOptions{Prefix: prefixSubscription, PrefetchValues: true})
			defer subs.Close()
			for subs.Rewind(); subs.Valid(); subs.Next() {
				var sub struct {
					IsActive bool `json:"is_active"`
				}
				if err := subs.Item().Value(func(v []byte) error { return json.Unmarshal(v, &sub) }); err != nil {
					return err
				}
				c.Subscriptions++
				if sub.IsActive {
					c.Active++
				}
			}
			return nil
		})
	})
	return c, err
}
