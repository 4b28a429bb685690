package storagetest

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
)

// lockWithin takes keys, failing the check if that takes longer than
// waitFor (a deadlock, or a key left held).
func lockWithin(t testing.TB, s storage.Store, keys ...string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	unlock, err := s.LockKeys(ctx, keys)
	if err != nil {
		t.Fatalf("LockKeys(%v): %v", keys, err)
	}
	return unlock
}

// checkLockKeys: holders of a key take turns, a waiter gets it when the
// holder lets go, other keys are free meanwhile, and callers naming keys
// in opposite orders do not deadlock.
func checkLockKeys(t testing.TB, s storage.Store) {
	// Read-modify-write cycles under the lock lose no update.
	const n = 8
	var holders, most, counter atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			unlock, err := s.LockKeys(ctx, []string{"order:1", "customer:9", "order:1"})
			if err != nil {
				t.Errorf("LockKeys: %v", err)
				return
			}
			defer unlock()
			if h := holders.Add(1); h > most.Load() {
				most.Store(h)
			}
			v := counter.Load()
			runtime.Gosched() // room for another holder, were there one
			counter.Store(v + 1)
			holders.Add(-1)
		})
	}
	wg.Wait()
	if counter.Load() != n || most.Load() != 1 {
		t.Errorf("%d cycles under LockKeys counted %d, with up to %d holders at once; want %d and 1", n, counter.Load(), most.Load(), n)
	}

	unlock := lockWithin(t, s, "order:1")
	lockWithin(t, s, "order:2")() // another key is free
	got := make(chan func(), 1)
	go func() {
		u, err := s.LockKeys(context.Background(), []string{"order:1"})
		if err != nil {
			t.Errorf("waiting LockKeys: %v", err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case u := <-got:
		u()
		t.Fatal("LockKeys took a key that another caller holds")
	default: // still waiting, as it should
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(waitFor):
		t.Fatal("a waiter did not get the key once its holder let go")
	}

	var fwd, rev sync.WaitGroup
	for _, keys := range [][]string{{"x", "y"}, {"y", "x"}} {
		wg := &fwd
		if keys[0] == "y" {
			wg = &rev
		}
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				u, err := s.LockKeys(ctx, keys)
				cancel()
				if err != nil {
					t.Errorf("LockKeys(%v), with another caller taking them in the other order: %v", keys, err)
					return
				}
				u()
			}
		})
	}
	fwd.Wait()
	rev.Wait()
}

// checkLockKeysGivesUp: a waiter whose context ends gets the context's
// error, holding nothing, and the keys stay usable.
func checkLockKeysGivesUp(t testing.TB, s storage.Store) {
	unlock := lockWithin(t, s, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if u, err := s.LockKeys(ctx, []string{"0", "b"}); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			u()
		}
		t.Fatalf("LockKeys on a held key until the deadline: %v, want an error matching context.DeadlineExceeded", err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if u, err := s.LockKeys(done, []string{"a"}); !errors.Is(err, context.Canceled) {
		if err == nil {
			u()
		}
		t.Errorf("LockKeys on a held key with a cancelled context: %v, want an error matching context.Canceled", err)
	}
	// "0" was taken, then given back when "b" could not be.
	lockWithin(t, s, "0")()
	unlock()
	lockWithin(t, s, "a", "b", "0")()
}
