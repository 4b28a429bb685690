package natsstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// group sends the writes made at the same time (commits, claims, results)
// as one atomic batch: a group commit. Each write is a batch of its own
// (all or nothing); a batch of several is all or nothing too, so a write
// keeps its atomicity, and the cluster makes one replicated, fsynced
// append for many writes instead of one each. A write waits in the queue
// while groupFlushers batches are in flight, then goes with all the
// others queued by then. When the cluster refuses a combined batch (a
// compare-and-set that lost, an event stored before: the refusal does not
// say which write), each of its writes is sent again alone, so that each
// gets its own answer. A combined batch that gets no answer, or that the
// cluster did not take, fails every write in it, as a lone batch would.
type group struct {
	s        *Store
	mu       sync.Mutex
	queue    []*groupWrite
	flushing int          // flushers running
	batches  atomic.Int64 // combined batches sent, for the tests
	resent   atomic.Int64 // writes sent again by writeTaken, for the tests
}

// groupWrite is one write waiting in a group.
type groupWrite struct {
	ctx  context.Context
	msgs []batchMsg
	done chan struct{}
	seq  uint64
	err  error
}

const (
	// groupFlushers is how many batches of a node are in flight at once
	// (the servers take at most 50 atomic batches in flight per stream,
	// from all nodes).
	groupFlushers = 4
	// groupMax bounds a combined batch, in messages (the servers take up
	// to 1000).
	groupMax = 256
)

// write sends msgs all or nothing, with the writes queued with it, and
// returns the sequence of msgs' last message. ctx bounds the wait; a write given up on may still be made.
func (g *group) write(ctx context.Context, msgs []batchMsg) (uint64, error) {
	w := &groupWrite{ctx: ctx, msgs: msgs, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	start := g.flushing < groupFlushers
	if start {
		g.flushing++
		g.s.ops.Add(1) // the caller is within use: the store is not closed yet
	}
	g.mu.Unlock()
	if start {
		go g.flush()
	}
	select {
	case <-w.done:
		return w.seq, w.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// writeTaken is write, sent again every republishEvery while the cluster
// answers that it did not take it (no responders, JetStream 503: the
// stream's leader is being elected, or its interest has not reached this
// node's server), for up to failoverWait or until ctx is done, as the
// JetStream client does for a lone publish. A write not taken was not
// stored, so sending it again is safe, compare-and-set and all; one that
// got no answer may be stored and is not sent again.
func (g *group) writeTaken(ctx context.Context, msgs []batchMsg) (uint64, error) {
	deadline := time.Now().Add(failoverWait)
	for {
		seq, err := g.write(ctx, msgs)
		if err == nil || !notTaken(err) || time.Now().After(deadline) {
			return seq, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(republishEvery):
		}
		g.resent.Add(1)
	}
}

// flush sends what is queued until the queue is empty.
func (g *group) flush() {
	defer g.s.ops.Done()
	for {
		g.mu.Lock()
		n, size := 0, 0
		for n < len(g.queue) && (n == 0 || size+len(g.queue[n].msgs) <= groupMax) {
			size += len(g.queue[n].msgs)
			n++
		}
		ws := g.queue[:n:n]
		g.queue = g.queue[n:]
		if n == 0 {
			g.flushing--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.send(ws)
	}
}

// send publishes writes as one batch, or each alone if the cluster refuses
// the combined one.
func (g *group) send(ws []*groupWrite) {
	live := ws[:0:0]
	for _, w := range ws {
		if err := w.ctx.Err(); err != nil {
			w.finish(0, err)
			continue
		}
		live = append(live, w)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].finish(g.s.publishBatch(live[0].ctx, live[0].msgs))
		return
	}
	var all []batchMsg
	for _, w := range live {
		all = append(all, w.msgs...)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), publishTry)
	defer context.AfterFunc(g.s.closing, cancel)()
	g.batches.Add(1)
	seq, err := g.s.publishBatch(ctx, all)
	cancel()
	if err == nil && seq > 0 {
		// A batch's messages take consecutive sequences: each write's
		// last is the batch's last less the messages after it.
		after := uint64(len(all))
		for _, w := range live {
			after -= uint64(len(w.msgs))
			w.finish(seq-after, nil)
		}
		return
	}
	if err != nil && !refused(err) {
		for _, w := range live {
			w.finish(0, err)
		}
		return
	}
	var wg sync.WaitGroup // refused (or a duplicate, seq 0): each alone
	for _, w := range live {
		wg.Go(func() { w.finish(g.s.publishBatch(w.ctx, w.msgs)) })
	}
	wg.Wait()
}

func (w *groupWrite) finish(seq uint64, err error) {
	w.seq, w.err = seq, err
	close(w.done)
}

// refused says whether the cluster answered a batch with a refusal that
// concerns what it holds (a lost compare-and-set, another error of the
// stream's), as opposed to no answer or no stream.
func refused(err error) bool {
	if errors.Is(err, errConflict) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code != 503
}
