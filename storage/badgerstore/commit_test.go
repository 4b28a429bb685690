package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Commits of concurrent requests go in one transaction: a batch that
// Badger refuses as too big is written again one commit at a time, so
// each commit still succeeds or fails on its own size.
func TestCommitBatchTooBigWrittenOneByOne(t *testing.T) {
	s := openTest(t)
	// Badger takes a transaction of up to 15% of a memtable: each commit
	// has two thirds of that, the two together four thirds. The values are
	// under Badger's value threshold: counted whole in the transaction.
	value := bytes.Repeat([]byte("x"), memTableSize*15/100/3)
	var batch []*pending
	for i := range 2 {
		p := &pending{set: s.config(), done: make(chan error, 1)}
		for j := range 2 {
			p.snaps = append(p.snaps, webhook.Snapshot{Key: fmt.Sprintf("order/%d-%d", i, j), Value: value})
		}
		batch = append(batch, p)
	}
	s.commitBatch(batch)
	for i, p := range batch {
		if err := <-p.done; err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	for i := range 2 {
		got, err := s.Snapshot(context.Background(), fmt.Sprintf("order/%d-1", i))
		if err != nil || len(got) != len(value) {
			t.Errorf("snapshot of commit %d: %d bytes, %v", i, len(got), err)
		}
	}
}

// Asynchronous commits still queued for the committer when the store
// closes are written before it closes, not lost.
func TestCloseWritesQueuedAsyncCommits(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	s.Configure(storage.Settings{Durability: webhook.Async, NotStored: func(_ []webhook.Event, err error) { failed <- err }})
	const n = 500
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				now := time.Now()
				ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))}
				if err := s.Commit(context.Background(), []webhook.Event{ev}, nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		t.Fatalf("an asynchronous commit failed: %v", err)
	default:
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if got := collect(t, s, start.Add(-time.Second)); len(got) != n {
		t.Errorf("after Close and reopening: %d events, want %d", len(got), n)
	}
}
