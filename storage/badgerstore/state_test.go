package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func TestSnapshots(t *testing.T) {
	s := openTest(t)
	if v, err := s.Snapshot(context.Background(), "order:1"); err != nil || v != nil {
		t.Fatalf("Snapshot of an unknown key = %s, %v", v, err)
	}
	// Snapshots alone, with async durability: visible on return.
	s.Configure(storage.Settings{Durability: webhook.Async})
	if err := s.Commit(context.Background(), nil, []webhook.Snapshot{{Key: "order:1", Value: []byte(`{"status":"pending"}`)}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Snapshot(context.Background(), "order:1"); string(v) != `{"status":"pending"}` {
		t.Errorf("after Commit: %s", v)
	}
	// With events, in the same transaction.
	ev := webhook.Event{ID: webhook.NewID("evt_", time.Now()), Name: "order.status_changed", Time: time.Now(), Data: json.RawMessage(`{}`)}
	if err := s.Commit(context.Background(), []webhook.Event{ev}, []webhook.Snapshot{{Key: "order:1", Value: []byte(`{"status":"paid"}`)}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Snapshot(context.Background(), "order:1"); string(v) != `{"status":"paid"}` {
		t.Errorf("after Commit with events (async): %s", v)
	}
	if err := s.Commit(context.Background(), nil, []webhook.Snapshot{{Key: "order:1"}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Snapshot(context.Background(), "order:1"); v != nil {
		t.Errorf("after a nil snapshot (forget): %s", v)
	}
	// A key longer than Badger takes (65,000 bytes) is stored hashed.
	long := "order:" + strings.Repeat("x", 70000)
	if err := s.Commit(context.Background(), []webhook.Event{ev}, []webhook.Snapshot{{Key: long, Value: []byte(`1`)}}); err != nil {
		t.Fatalf("commit with a 70 kB state key: %v", err)
	}
	if v, _ := s.Snapshot(context.Background(), long); string(v) != "1" {
		t.Errorf("long key read back: %s", v)
	}
	if got := collect(t, s, time.Time{}); len(got) != 1 {
		t.Errorf("events stored with the snapshot: %d", len(got))
	}
}

// TestLockKeys: concurrent read-modify-write cycles on one key, each under
// LockKeys, never read the same value twice.
func TestLockKeys(t *testing.T) {
	s := openTest(t)
	const n = 50
	seen := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := s.LockKeys(context.Background(), []string{"order:1", "customer:9", "order:1"})
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			v, err := s.Snapshot(context.Background(), "order:1")
			if err != nil {
				t.Error(err)
				return
			}
			seen <- string(v)
			next := []byte(`"` + time.Now().Format(time.RFC3339Nano) + `"`)
			time.Sleep(100 * time.Microsecond) // widen the window a missing lock would leave
			if err := s.Commit(context.Background(), nil, []webhook.Snapshot{{Key: "order:1", Value: next}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := map[string]bool{}
	for v := range seen {
		if got[v] {
			t.Errorf("value %s read twice: two cycles overlapped", v)
		}
		got[v] = true
	}
	if len(s.locks.locks) != 0 {
		t.Errorf("%d key locks left after every holder let go", len(s.locks.locks))
	}
}

// TestLockKeysGivesUp: a waiter whose context ends gets an error, holds
// nothing, and leaves the key usable.
func TestLockKeysGivesUp(t *testing.T) {
	s := openTest(t)
	unlock, err := s.LockKeys(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.LockKeys(ctx, []string{"0", "b"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held key: %v, want a deadline error", err)
	}
	// "0" was taken then given back: it is free.
	u0, err := s.LockKeys(context.Background(), []string{"0"})
	if err != nil {
		t.Fatal(err)
	}
	u0()
	unlock()
	u, err := s.LockKeys(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	u()
	if len(s.locks.locks) != 0 {
		t.Errorf("%d key locks left", len(s.locks.locks))
	}
}
