package natsstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"
)

// keyLocks are the state keys this process holds: callers in the process
// queue here, so that only one at a time asks the cluster for a key, and
// the holder remembers the revision of the state it read (see Snapshot).
type keyLocks struct {
	mu   sync.Mutex
	held map[string]*heldKey
}

// heldKey is a key held in the process; done is closed when it is let go.
type heldKey struct {
	done    chan struct{}
	readSeq uint64
	read    bool
}

func newKeyLocks() *keyLocks { return &keyLocks{held: map[string]*heldKey{}} }

// acquire holds key in the process, or returns ctx's error.
func (l *keyLocks) acquire(ctx context.Context, key string) error {
	for {
		l.mu.Lock()
		h, busy := l.held[key]
		if !busy {
			l.held[key] = &heldKey{done: make(chan struct{})}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-h.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *keyLocks) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[key]; ok {
		delete(l.held, key)
		close(h.done)
	}
}

// read remembers the revision of a held key's state (0: none).
func (l *keyLocks) read(key string, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[key]; ok {
		h.readSeq, h.read = seq, true
	}
}

// readSeq is the revision read under the lock of key, if any.
func (l *keyLocks) readSeq(key string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[key]; ok && h.read {
		return h.readSeq, true
	}
	return 0, false
}

// committed forgets the revisions read of the snapshots a commit wrote.
func (l *keyLocks) committed(msgs []batchMsg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if h, ok := l.held[m.key]; ok && m.key != "" {
			h.read = false
		}
	}
}

// LockKeys holds the keys, in sorted order (no deadlock between callers
// naming overlapping sets), in the process and in the cluster, until
// unlock; or gives up, holding nothing, once ctx is done.
func (s *Store) LockKeys(ctx context.Context, keys []string) (func(), error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	var held []*clusterLock
	unlock := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i].release()
		}
	}
	err := s.use(ctx, func(ctx context.Context) error {
		for _, key := range keys {
			l, err := s.lock(ctx, key)
			if err != nil {
				return err
			}
			held = append(held, l)
		}
		return nil
	})
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// clusterLock is a key held in the process and in P_locks.
type clusterLock struct {
	s    *Store
	key  string
	stop chan struct{}
	done chan struct{}
}

// lock holds one key: in the process, then in the cluster.
func (s *Store) lock(ctx context.Context, key string) (*clusterLock, error) {
	if err := s.locks.acquire(ctx, key); err != nil {
		return nil, fmt.Errorf("waiting for the lock of %.100q: %w", key, err)
	}
	rev, err := s.lockInCluster(ctx, lockKey(key))
	if err != nil {
		s.locks.release(key)
		return nil, err
	}
	l := &clusterLock{s: s, key: key, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew(rev) //nolint:gosec // G118: the lock outlives the request that took it: renewed until unlock
	return l, nil
}

// lockKey is the P_locks key of a state key.
func lockKey(key string) string { return snapKey(key)[2:] }

// lockInCluster creates the key in P_locks, or waits until its holder
// deletes it or it expires, and tries again.
func (s *Store) lockInCluster(ctx context.Context, key string) (uint64, error) {
	token := []byte(nuid.Next())
	var w jetstream.KeyWatcher
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	for {
		rctx, cancel := withTimeout(ctx)
		rev, err := s.b.locks.Create(rctx, key, token)
		cancel()
		if err == nil {
			return rev, nil
		}
		if !taken(err) {
			return 0, natsError("taking a lock", err)
		}
		if w == nil {
			if w, err = s.b.locks.Watch(ctx, key); err != nil {
				return 0, natsError("watching a lock", err)
			}
		}
		if err := waitFreed(ctx, w); err != nil {
			return 0, err
		}
	}
}

// taken says whether a Create failed because the key exists. nats.go's
// Create says so (ErrKeyExists) except when the key had been deleted and
// another writer creates it first: then JetStream's "wrong last sequence"
// comes through as it is (10164 on a replicated bucket), which for a lock
// released and taken again under load is the common case.
func taken(err error) bool {
	var api *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		errors.As(err, &api) && (api.ErrorCode == errCodeWrongLastSeq || api.ErrorCode == errCodeWrongLastSeqR)
}

// waitFreed waits until the watched lock is deleted or expires (or the
// watch's initial values end: the key may be free already).
func waitFreed(ctx context.Context, w jetstream.KeyWatcher) error {
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("storage nats: the watch of a lock ended")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for a lock: %w", ctx.Err())
		}
	}
}

// renew rewrites the lock every lockTTL/3 so that it does not expire
// while held, until release.
func (l *clusterLock) renew(rev uint64) {
	defer close(l.done)
	t := time.NewTicker(lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.delete(rev)
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			next, err := l.s.b.locks.Update(ctx, lockKey(l.key), []byte(nuid.Next()), rev)
			cancel()
			if err != nil {
				l.s.logger.Warn("could not renew a lock: another request on the resource may run meanwhile", zap.Error(err))
				continue
			}
			rev = next
		}
	}
}

// delete deletes the lock if it is still this holder's.
func (l *clusterLock) delete(rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := l.s.b.locks.Delete(ctx, lockKey(l.key), jetstream.LastRevision(rev)); err != nil {
		l.s.logger.Warn("could not release a lock: it expires by itself", zap.Error(err))
	}
}

// release lets the key go, in the cluster then in the process.
func (l *clusterLock) release() {
	close(l.stop)
	<-l.done
	l.s.locks.release(l.key)
}
