package natsstore

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// silentBucket is a subscriptions bucket whose first watches get no
// answer (the consumer asked of a stream whose leader is still being
// elected), then an empty one.
type silentBucket struct {
	jetstream.KeyValue // only WatchAll is called
	unanswered         int
	mu                 sync.Mutex
	watches            int
}

func (b *silentBucket) WatchAll(context.Context, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watches++
	if b.watches <= b.unanswered {
		return nil, context.DeadlineExceeded
	}
	w := &emptyWatch{c: make(chan jetstream.KeyValueEntry, 1)}
	w.c <- nil // the bucket's current values, all none of them, were sent
	return w, nil
}

type emptyWatch struct {
	c    chan jetstream.KeyValueEntry
	once sync.Once
}

func (w *emptyWatch) Updates() <-chan jetstream.KeyValueEntry { return w.c }
func (w *emptyWatch) Stop() error                             { w.once.Do(func() { close(w.c) }); return nil }

// TestFollowSubsAsksAgain: a store opening on a cluster that does not
// answer its first watch of the subscriptions asks again and opens,
// rather than failing the open (a store then degraded until it is
// opened again).
func TestFollowSubsAsksAgain(t *testing.T) {
	t.Parallel()
	b := &silentBucket{unanswered: 1}
	c, stop, err := followSubs(context.Background(), b, func() {}, zap.NewNop())
	if err != nil {
		t.Fatalf("followSubs: %v after %d watches; want it to open", err, b.watches)
	}
	defer stop()
	if b.watches != 2 || len(c.all()) != 0 {
		t.Errorf("%d watches, %d subscriptions; want 2 (the first unanswered), none", b.watches, len(c.all()))
	}
}
