package natsstore

import (
	"context"
	"slices"
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
}

// dueIndex is every pending delivery, by subscription, as this node's
// watch of the ledger follows them.
type dueIndex struct {
	applied progress
	mu      sync.Mutex
	bySub   map[string]map[string]*pending
	subOf   map[string]string // delivery id → subscription id
	ready   bool              // the watch caught up with the ledger at start
	tally   *tally            // the counts of events and finished deliveries
}

func newDueIndex() *dueIndex {
	return &dueIndex{applied: newProgress(), bySub: map[string]map[string]*pending{}, subOf: map[string]string{}, tally: newTally()}
}

// put records a pending delivery; it says whether the delivery is new or
// due earlier than before (a wake-up may be needed).
func (x *dueIndex) put(p *pending) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.bySub[p.sub]
	if m == nil {
		m = map[string]*pending{}
		x.bySub[p.sub] = m
	}
	old := m[p.id]
	m[p.id], x.subOf[p.id] = p, p.sub
	return old == nil || p.due.Before(old.due)
}

// remove forgets a delivery that is no longer pending.
func (x *dueIndex) remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	sub, ok := x.subOf[id]
	if !ok {
		return
	}
	delete(x.subOf, id)
	delete(x.bySub[sub], id)
	if len(x.bySub[sub]) == 0 {
		delete(x.bySub, sub)
	}
}

// lookup returns a pending delivery, or nil.
func (x *dueIndex) lookup(id string) *pending {
	x.mu.Lock()
	defer x.mu.Unlock()
	if sub, ok := x.subOf[id]; ok {
		p := *x.bySub[sub][id]
		return &p
	}
	return nil
}

// due returns a subscription's deliveries due at now, earliest first,
// and the earliest due time after now (zero: none).
func (x *dueIndex) due(sub string, now time.Time) ([]pending, time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []pending
	var next time.Time
	for _, p := range x.bySub[sub] {
		if !p.due.After(now) {
			out = append(out, *p)
		} else if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
	}
	slices.SortFunc(out, func(a, b pending) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out, next
}

// of returns a subscription's pending deliveries.
func (x *dueIndex) of(sub string) []pending {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]pending, 0, len(x.bySub[sub]))
	for _, p := range x.bySub[sub] {
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
	return int64(len(x.subOf))
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
// or ctx ends (the index becomes ready later then).
func watchLedger(ctx context.Context, js jetstream.JetStream, prefix string, wake func(), logger *zap.Logger) (*dueIndex, func(), error) {
	x := newDueIndex()
	pre := "$KV." + prefix + "."
	cons, err := js.OrderedConsumer(ctx, "KV_"+prefix, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{pre + "e.>", pre + "d.>"}, HeadersOnly: true,
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
			x.remove(id)
			return false
		}
		if w := h.Get(hdrWas); w != "" {
			x.tally.replaced(w)
		}
		if k, finished := kindOf(h.Get(hdrStatus)); finished || h.Get(hdrStatus) != webhook.Pending {
			x.remove(id)
			if finished {
				x.tally.add(k, expiry(ts, h), seq)
			}
			return false
		}
		subID, err := subID(sub)
		due, err2 := strconv.ParseInt(h.Get(hdrDue), 10, 64)
		if err != nil || err2 != nil {
			logger.Error("skipping an unreadable delivery record", zap.String("key", key))
			return false
		}
		return x.put(&pending{id: id, sub: subID, due: time.Unix(0, due).UTC(), recorded: true})
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
	for pair := range strings.SplitSeq(h.Get(hdrFanout), ",") {
		dlv, sub, ok := strings.Cut(pair, " ")
		subID, err := subID(sub)
		if !ok || err != nil {
			continue
		}
		woke = x.put(&pending{id: dlv, sub: subID, event: id, due: due, name: name}) || woke
	}
	return woke
}
