package natsstore

// The watches a store opens with, asked again while a cluster that just
// created their streams does not answer.

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

// silentJetStream leaves the first requests for an ordered consumer
// unanswered, then gives one with nothing pending.
type silentJetStream struct {
	jetstream.JetStream // only OrderedConsumer is called
	unanswered, asked   int
}

func (js *silentJetStream) OrderedConsumer(context.Context, string, jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	js.asked++
	if js.asked <= js.unanswered {
		return nil, context.DeadlineExceeded
	}
	return idleConsumer{}, nil
}

type idleConsumer struct{ jetstream.Consumer }

func (idleConsumer) Consume(jetstream.MessageHandler, ...jetstream.PullConsumeOpt) (jetstream.ConsumeContext, error) {
	c := make(chan struct{})
	close(c)
	return stoppedConsume(c), nil
}

func (idleConsumer) CachedInfo() *jetstream.ConsumerInfo { return &jetstream.ConsumerInfo{} }

type stoppedConsume chan struct{}

func (stoppedConsume) Stop()                     {}
func (stoppedConsume) Drain()                    {}
func (c stoppedConsume) Closed() <-chan struct{} { return c }

// TestWatchLedgerAsksAgain: the ledger's consumer, unanswered at first
// (as a stream just created can leave it), is asked for again, and the
// index opens ready.
func TestWatchLedgerAsksAgain(t *testing.T) {
	t.Parallel()
	js := &silentJetStream{unanswered: 1}
	x, stop, err := watchLedger(context.Background(), js, "p", func() {}, zap.NewNop())
	if err != nil {
		t.Fatalf("watchLedger: %v after %d requests; want it to open", err, js.asked)
	}
	defer stop()
	if js.asked != 2 || !x.isReady() {
		t.Errorf("%d requests, index ready %v; want 2 (the first unanswered), ready", js.asked, x.isReady())
	}
}
