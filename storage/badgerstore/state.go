package badgerstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

var prefixState = []byte("k/")

// Snapshot returns the state remembered under key, or nil when there is
// none (never written, or expired after the retention).
func (s *Store) Snapshot(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(stateKey(key))
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

func putSnapshot(txn *badger.Txn, sn webhook.Snapshot, retention time.Duration) error {
	k := stateKey(sn.Key)
	if sn.Value == nil {
		return txn.Delete(k)
	}
	e := badger.NewEntry(k, sn.Value)
	if retention > 0 {
		e = e.WithTTL(retention)
	}
	return txn.SetEntry(e)
}

// maxStateKey is the longest state key stored as it is; longer ones (a
// key built from a long request value) are stored under their SHA-256,
// as Badger refuses keys over 65,000 bytes and the whole transaction,
// events included, with them.
const maxStateKey = 512

func stateKey(key string) []byte {
	k := append([]byte{}, prefixState...)
	if len(key) > maxStateKey {
		sum := sha256.Sum256([]byte(key))
		return append(append(k, '#'), hex.EncodeToString(sum[:])...)
	}
	return append(k, key...)
}

// keyLocks serialises the requests on one resource: each key has a
// one-slot semaphore while someone holds or waits for it.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	slot chan struct{}
	refs int
}

func (kl *keyLocks) ref(k string) *keyLock {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if kl.locks == nil {
		kl.locks = map[string]*keyLock{}
	}
	l := kl.locks[k]
	if l == nil {
		l = &keyLock{slot: make(chan struct{}, 1)}
		kl.locks[k] = l
	}
	l.refs++
	return l
}

func (kl *keyLocks) unref(k string, l *keyLock) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(kl.locks, k)
	}
}

// LockKeys holds the keys until the returned function is called: a
// request on a resource reads its previous state, goes upstream and
// writes the new state with no other request on that resource in
// between. Keys are taken in sorted order, so two requests never wait for
// each other. It gives up, holding nothing, when ctx is done first.
func (s *Store) LockKeys(ctx context.Context, keys []string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // select would pick a free slot as often as the done context
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]*keyLock, 0, len(keys))
	release := func() {
		for i, l := range held {
			<-l.slot
			s.locks.unref(keys[i], l)
		}
		held = nil
	}
	for _, k := range keys {
		l := s.locks.ref(k)
		select {
		case l.slot <- struct{}{}:
			held = append(held, l)
		case <-ctx.Done():
			s.locks.unref(k, l)
			release()
			return nil, fmt.Errorf("waiting for state %s: %w", k, ctx.Err())
		}
	}
	return release, nil
}
