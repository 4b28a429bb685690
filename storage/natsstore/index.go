package natsstore

import (
	"container/heap"
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// pending is a pending delivery in the due index.
type pending struct {
	id, sub, event string
	due            time.Time
	// recorded: the delivery has a record d.<sub>.<id>; otherwise it is
	// implied by its event (name, created at due), not claimed yet.
	recorded bool
	name     string // the event's name, for an implied delivery
	at       int    // its place in its subscription's heap
	// line is its order key (orderToken) when its subscription is ordered
	// (order.go); waiting: an earlier one of the line is pending, so it
	// is not in the heap.
	line    string
	waiting bool
}

// dueIndex is every pending delivery, by subscription, as this node's
// watch of the ledger follows them. Each subscription's are in a heap by
// due time, so that a claim reads the few it takes, not the whole backlog.
type dueIndex struct {
	applied progress
	mu      sync.Mutex
	bySub   map[string]*subQueue
	byID    map[string]*pending
	ready   bool   // the watch caught up with the ledger at start
	tally   *tally // the counts of events and finished deliveries
	latest  latestEvents
}

func newDueIndex() *dueIndex {
	return &dueIndex{applied: newProgress(), bySub: map[string]*subQueue{}, byID: map[string]*pending{}, tally: newTally()}
}

// put records a pending delivery; it says whether the delivery is new or
// due earlier than before (a wake-up may be needed).
func (x *dueIndex) put(p *pending) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.byID[p.id]
	// A record keeps its delivery's place in its line; one whose line
	// differs left it (a redelivery: webhook.Delivery.Redeliver), as a node
	// that reads only the record, rebuilding its index, sees it.
	if old != nil && old.sub == p.sub && (!p.recorded || p.line == old.line) {
		earlier := p.due.Before(old.due)
		at, line, waiting := old.at, old.line, old.waiting
		*old = *p
		old.at, old.line, old.waiting = at, line, waiting // it keeps its place in its line
		if waiting {
			return false
		}
		heap.Fix(x.bySub[p.sub], at)
		return earlier
	}
	if old != nil {
		x.removeLocked(old)
	}
	q := x.bySub[p.sub]
	if q == nil {
		q = &subQueue{}
		x.bySub[p.sub] = q
	}
	x.byID[p.id] = p
	if q.join(p) {
		return false // it waits for an earlier one of its line
	}
	heap.Push(q, p)
	return true
}

// remove forgets a delivery that is no longer pending; it says whether
// that let a waiting one go (a wake-up may be needed).
func (x *dueIndex) remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.byID[id]; ok {
		return x.removeLocked(p)
	}
	return false
}

func (x *dueIndex) removeLocked(p *pending) bool {
	delete(x.byID, p.id)
	q := x.bySub[p.sub]
	if !p.waiting {
		heap.Remove(q, p.at)
	}
	next := q.leave(p)
	if next != nil {
		heap.Push(q, next)
	}
	if q.Len() == 0 {
		delete(x.bySub, p.sub) // a line's first is in the heap: no line is left
	}
	return next != nil
}

// lookup returns a pending delivery, or nil.
func (x *dueIndex) lookup(id string) *pending {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p, ok := x.byID[id]; ok {
		c := *p
		return &c
	}
	return nil
}

// due returns up to limit of a subscription's deliveries due at now,
// earliest first, and, when it saw one, the earliest due time after now
// (zero otherwise: none, or more are due than limit). It reads about
// limit entries of the subscription's heap, whatever its size.
func (x *dueIndex) due(sub string, now time.Time, limit int) ([]pending, time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	q := x.bySub[sub]
	if q == nil {
		return nil, time.Time{}
	}
	var out []pending
	// The k smallest of a heap: a small heap of the candidates (the
	// root, then the children of each taken).
	cand := candHeap{q: q, at: []int{0}}
	for cand.Len() > 0 && len(out) < limit {
		i := heap.Pop(&cand).(int)
		p := q.items[i]
		if p.due.After(now) {
			return out, p.due
		}
		out = append(out, *p)
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < q.Len() {
				heap.Push(&cand, c)
			}
		}
	}
	return out, time.Time{}
}

// of returns a subscription's pending deliveries.
func (x *dueIndex) of(sub string) []pending {
	x.mu.Lock()
	defer x.mu.Unlock()
	q := x.bySub[sub]
	if q == nil {
		return nil
	}
	out := make([]pending, 0, q.Len())
	for _, p := range q.items {
		out = append(out, *p)
	}
	for _, p := range q.waiters() {
		out = append(out, *p)
	}
	return out
}

// subsWithPending lists the subscriptions that have pending deliveries.
func (x *dueIndex) subsWithPending() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]string, 0, len(x.bySub))
	for sub := range x.bySub {
		out = append(out, sub)
	}
	return out
}

func (x *dueIndex) size() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return int64(len(x.byID))
}

// subQueue is a subscription's pending deliveries: a heap by due time
// (then id) of those that may be claimed, and the lines of an ordered
// subscription (order.go), whose first is in the heap.
type subQueue struct {
	items []*pending
	lines map[string][]*pending
}

func earlier(a, b *pending) bool {
	if c := a.due.Compare(b.due); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

func (q *subQueue) Len() int           { return len(q.items) }
func (q *subQueue) Less(i, j int) bool { return earlier(q.items[i], q.items[j]) }
func (q *subQueue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].at, q.items[j].at = i, j
}
func (q *subQueue) Push(x any) {
	p := x.(*pending)
	p.at = len(q.items)
	q.items = append(q.items, p)
}
func (q *subQueue) Pop() any {
	n := len(q.items) - 1
	p := q.items[n]
	q.items[n] = nil
	q.items = q.items[:n]
	return p
}

// candHeap orders places of a subQueue by what they hold.
type candHeap struct {
	q  *subQueue
	at []int
}

func (c *candHeap) Len() int           { return len(c.at) }
func (c *candHeap) Less(i, j int) bool { return c.q.Less(c.at[i], c.at[j]) }
func (c *candHeap) Swap(i, j int)      { c.at[i], c.at[j] = c.at[j], c.at[i] }
func (c *candHeap) Push(x any)         { c.at = append(c.at, x.(int)) }
func (c *candHeap) Pop() any {
	n := len(c.at) - 1
	i := c.at[n]
	c.at = c.at[:n]
	return i
}

func (x *dueIndex) isReady() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.ready
}

func (x *dueIndex) setReady() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ready = true
}

// watchLedger follows the ledger's events and deliveries, headers only,
// into a due index (an ordered consumer: ephemeral, in memory, no Raft
// group of its own). It waits until the index caught up with the ledger,
// or ctx ends (the index becomes ready later then). The consumer is asked
// for again while the cluster does not answer (followSubs says why).
func watchLedger(ctx context.Context, js jetstream.JetStream, prefix string, wake func(), logger *zap.Logger) (*dueIndex, func(), error) {
	x := newDueIndex()
	pre := "$KV." + prefix + "."
	var cons jetstream.Consumer
	err := retrySetup(ctx, func(ctx context.Context) (err error) {
		cons, err = js.OrderedConsumer(ctx, "KV_"+prefix, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{pre + "e.>", pre + "d.>"}, HeadersOnly: true,
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	caughtUp := make(chan struct{})
	var once sync.Once
	ready := func() { once.Do(func() { x.setReady(); close(caughtUp) }) }
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		if x.apply(m.Subject()[len(pre):], m.Headers(), meta.Sequence.Stream, meta.Timestamp, logger) && x.isReady() {
			wake()
		}
		x.applied.advance(meta.Sequence.Stream)
		if meta.NumPending == 0 {
			ready()
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		ready()
	}
	select {
	case <-caughtUp:
	case <-ctx.Done():
		logger.Warn("the due index is still reading the ledger: deliveries are claimed once it has")
	}
	return x, func() { cc.Stop(); <-cc.Closed() }, nil
}

// apply records one record of the ledger (key without the prefix),
// stored at seq and ts; it says whether a delivery became due earlier.
func (x *dueIndex) apply(key string, h nats.Header, seq uint64, ts time.Time, logger *zap.Logger) bool {
	kind, rest, _ := strings.Cut(key, ".")
	switch {
	case kind == "e" && !isMarker(h):
		x.tally.add(kindEvent, expiry(ts, h), seq)
		return x.applyEvent(rest, h, logger)
	case kind == "d":
		sub, id, _ := strings.Cut(rest, ".")
		if isMarker(h) {
			return x.remove(id)
		}
		if w := h.Get(hdrWas); w != "" {
			x.tally.replaced(w)
		}
		if st := h.Get(hdrStatus); st != webhook.Pending {
			released := x.remove(id)
			if k, finished := kindOf(st); finished {
				x.tally.add(k, expiry(ts, h), seq)
			}
			return released
		}
		subID, err := subID(sub)
		due, err2 := strconv.ParseInt(h.Get(hdrDue), 10, 64)
		if err != nil || err2 != nil {
			logger.Error("skipping an unreadable delivery record", zap.String("key", key))
			return false
		}
		return x.put(&pending{id: id, sub: subID, due: time.Unix(0, due).UTC(), recorded: true, line: h.Get(hdrOrder)})
	}
	return false
}

// applyEvent records the deliveries an event implies.
func (x *dueIndex) applyEvent(id string, h nats.Header, logger *zap.Logger) bool {
	at, err := strconv.ParseInt(h.Get(hdrAt), 10, 64)
	if err != nil {
		logger.Error("skipping an event record without its commit time", zap.String("event_id", id))
		return false
	}
	due, name, woke := time.Unix(0, at).UTC(), h.Get(hdrName), false
	x.latest.add(id, name)
	ordered, line := orderedSubs(h), h.Get(hdrOrder)
	for pair := range strings.SplitSeq(h.Get(hdrFanout), ",") {
		dlv, sub, ok := strings.Cut(pair, " ")
		subID, err := subID(sub)
		if !ok || err != nil {
			continue
		}
		p := &pending{id: dlv, sub: subID, event: id, due: due, name: name}
		if ordered[sub] {
			p.line = line
		}
		woke = x.put(p) || woke
	}
	return woke
}
