package queue

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var prefixState = []byte("k/")

// Snapshot is the remembered state of one resource (a rule's state.key),
// written in the transaction that stores the request's events.
type Snapshot struct {
	Key   string
	Value []byte // JSON; nil forgets what is remembered under Key
}

// Snapshot returns the state remembered under key, or nil when there is
// none (never written, or expired after the retention).
func (s *Store) Snapshot(key string) ([]byte, error) {
	var out []byte
	err := s.use(func() error {
		return s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(append(append([]byte{}, prefixState...), key...))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			out, err = item.ValueCopy(nil)
			return err
		})
	})
	return out, err
}

func putSnapshot(txn *badger.Txn, sn Snapshot, retention time.Duration) error {
	k := append(append([]byte{}, prefixState...), sn.Key...)
	if sn.Value == nil {
		return txn.Delete(k)
	}
	e := badger.NewEntry(k, sn.Value)
	if retention > 0 {
		e = e.WithTTL(retention)
	}
	return txn.SetEntry(e)
}

// keyLocks serialises the requests on one resource: each key has a mutex
// while someone holds or waits for it.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// LockKeys holds the keys until the returned function is called: a
// request on a resource reads its previous state, goes upstream and
// writes the new state with no other request on that resource in
// between. Keys are taken in sorted order, so two requests never wait for
// each other.
func (s *Store) LockKeys(keys []string) (unlock func()) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]*keyLock, 0, len(keys))
	for _, k := range keys {
		s.locks.mu.Lock()
		if s.locks.locks == nil {
			s.locks.locks = map[string]*keyLock{}
		}
		l := s.locks.locks[k]
		if l == nil {
			l = &keyLock{}
			s.locks.locks[k] = l
		}
		l.refs++
		s.locks.mu.Unlock()
		l.mu.Lock()
		held = append(held, l)
	}
	return func() {
		for i, l := range held {
			l.mu.Unlock()
			s.locks.mu.Lock()
			if l.refs--; l.refs == 0 {
				delete(s.locks.locks, keys[i])
			}
			s.locks.mu.Unlock()
		}
	}
}
