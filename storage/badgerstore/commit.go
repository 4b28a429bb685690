package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Group commit: the commits of concurrent requests are written by one
// goroutine, the committer, in one transaction, and made durable by
// another, the syncer, with one fsync for every batch written meanwhile
// (of the commit log: commitlog.go). Under load this is what bounds a
// synced request's wait: a commit made by itself waits for Badger's write
// goroutine (a new transaction waits until every earlier one is applied)
// and then for the fsyncs queued before its own, one after the other; in
// a batch it waits for one of each, shared with every request that came
// meanwhile, and the next batch is written while this one is synced.
const (
	// commitQueue is how many commits may wait for the committer; beyond
	// it, Commit waits for room (asynchronous ones included).
	commitQueue = 1024
	// maxBatchCommits and maxBatchBytes bound one batch: Badger refuses a
	// transaction over 15% of a memtable (ErrTxnTooBig), and a batch it
	// refuses is written again one commit at a time.
	maxBatchCommits = 256
	maxBatchBytes   = 1 << 20
	// syncQueue is how many written batches may wait for the syncer.
	syncQueue = 64
)

// pending is a Commit waiting for the committer.
type pending struct {
	events []webhook.Event
	vals   [][]byte // events encoded by the caller, in parallel with the others
	snaps  []webhook.Snapshot
	size   int
	set    storage.Settings
	// done receives the outcome (buffered: the committer never waits for
	// it); nil when nobody waits: an asynchronous commit without
	// snapshots, whose failure goes to set.NotStored.
	done chan error
}

// wantsSync reports whether the commit returns only once durable.
func (p *pending) wantsSync() bool {
	return len(p.events) > 0 && p.set.Durability != webhook.Async
}

func (p *pending) finish(err error) {
	switch {
	case p.done != nil:
		p.done <- err
	case err != nil && p.set.NotStored != nil:
		p.set.NotStored(p.events, err)
	}
}

// Commit stores events, and the request's resource snapshots, in one
// transaction: all of them or none. Records expire after the configured
// retention. With Async, errors are reported to Settings.NotStored
// instead. Snapshots alone (a read that refreshes state) are committed
// before it returns, whatever the durability, but not synced: losing one
// in a crash costs a prefetch, not an event.
func (s *Store) Commit(ctx context.Context, events []webhook.Event, snaps []webhook.Snapshot) error {
	if len(events) == 0 && len(snaps) == 0 {
		return nil
	}
	p := &pending{events: events, snaps: snaps, set: s.config()}
	p.vals = make([][]byte, len(events))
	for i := range events {
		val, err := events[i].AppendJSON(make([]byte, 0, len(events[i].Data)+eventJSONSize))
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", events[i].Name, err)
		}
		p.vals[i] = val
	}
	p.size = commitSize(events, snaps, len(*s.subs.Load()))
	// Snapshots must be readable when Commit returns: the caller then lets
	// the next request on the resource read them.
	if p.wantsSync() || len(snaps) > 0 {
		p.done = make(chan error, 1)
	}
	return s.write(ctx, p.size, func() error {
		select {
		case s.commitQ <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.done == nil {
			return nil
		}
		select {
		case err := <-p.done:
			return err
		case <-ctx.Done():
			return fmt.Errorf("%w (the commit may still be made)", ctx.Err())
		}
	})
}

// commitSize estimates what a commit writes: each event, its delivery to
// every subscription, and the snapshots.
func commitSize(events []webhook.Event, snaps []webhook.Snapshot, subs int) int {
	n := 0
	for i := range events {
		n += len(events[i].Data) + 512 + subs*deliverySize
	}
	for i := range snaps {
		n += len(snaps[i].Key) + len(snaps[i].Value) + 64
	}
	return n
}

// written is a batch written, for the syncer.
type written struct {
	batch []*pending // those that wait for the fsync
	notes *dueNotes
	// record is the batch's commit log record (replay.go), encoded when
	// the batch was written; nil without a log, or when it needs Badger
	// synced (logPayload).
	record []byte
}

// runCommitter writes the queued commits in batches until the queue is
// closed (Close) and drained; then it stops the syncer.
func (s *Store) runCommitter() {
	defer close(s.syncQ)
	batch := make([]*pending, 0, maxBatchCommits)
	for p := range s.commitQ {
		batch = append(batch[:0], p)
		size := p.size
	gather: // what came while the last batch was written
		for len(batch) < maxBatchCommits && size < maxBatchBytes {
			select {
			case q, ok := <-s.commitQ:
				if !ok {
					break gather
				}
				batch = append(batch, q)
				size += q.size
			default:
				break gather
			}
		}
		s.commitBatch(batch)
		clear(batch) // let the events go
	}
}

// runSyncer makes the written batches durable, one fsync for all those
// waiting, until the committer stops.
func (s *Store) runSyncer() {
	defer close(s.committerDone)
	for w := range s.syncQ {
		ws := []written{w}
	gather:
		for {
			select {
			case more, ok := <-s.syncQ:
				if !ok {
					break gather
				}
				ws = append(ws, more)
			default:
				break gather
			}
		}
		err := s.syncWritten(ws)
		if err != nil {
			err = fmt.Errorf("syncing events: %w", err)
		}
		for _, w := range ws {
			// Once durable, as the clients' responses; after a failed
			// fsync too: the deliveries are stored, and go out as those
			// of any commit.
			s.noteDue(w.notes)
			for _, p := range w.batch {
				p.finish(err)
			}
		}
	}
}

// conflictTries bounds how often a batch is written again after a
// conflict: a delivery that left an order line while the batch joined it
// (order.go). Each try reads the lines afresh, so a second rarely fails.
const conflictTries = 100

// commitBatch writes a batch in one transaction, tells the commits that
// do not wait for an fsync, and hands the others to the syncer.
func (s *Store) commitBatch(batch []*pending) {
	at := time.Now() // before Badger sets the records' expiry (replay.go)
	notes, err := s.writeBatch(batch)
	for try := 1; errors.Is(err, badger.ErrConflict) && try < conflictTries; try++ {
		notes, err = s.writeBatch(batch)
	}
	if errors.Is(err, badger.ErrTxnTooBig) && len(batch) > 1 {
		for _, p := range batch {
			s.commitBatch([]*pending{p})
		}
		return
	}
	if err != nil {
		for _, p := range batch {
			p.finish(err)
		}
		return
	}
	var syncs []*pending
	for _, p := range batch {
		if p.wantsSync() {
			syncs = append(syncs, p)
			continue
		}
		p.finish(nil)
	}
	if len(syncs) == 0 {
		s.noteDue(notes)
		return
	}
	s.syncQ <- written{batch: syncs, notes: notes, record: s.logPayload(at, syncs)}
}

// writeBatch writes the batch's events, their deliveries and snapshots in
// one transaction and returns the deliveries' due times.
func (s *Store) writeBatch(batch []*pending) (*dueNotes, error) {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	now := time.Now().UTC()
	subs := *s.subs.Load()
	notes := s.newNotes() // deliveries may be leased to the dispatcher (HandOff)
	for _, p := range batch {
		if err := p.write(txn, subs, now, notes); err != nil {
			return nil, err
		}
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("storing events: %w", err)
	}
	s.queued.Add(notes.queued)
	return notes, nil
}

// write adds the commit's records to txn.
func (p *pending) write(txn *badger.Txn, subs []*webhook.Subscription, now time.Time, notes *dueNotes) error {
	retention := p.set.Retention
	for _, sn := range p.snaps {
		if err := putSnapshot(txn, sn, retention); err != nil {
			return fmt.Errorf("storing state %s: %w", sn.Key, err)
		}
	}
	for i := range p.events {
		ev := &p.events[i]
		e := badger.NewEntry(key(prefixEvent, ev.ID), p.vals[i])
		if retention > 0 {
			e = e.WithTTL(retention)
		}
		if err := txn.SetEntry(e); err != nil {
			return fmt.Errorf("storing event %s: %w", ev.Name, err)
		}
		if err := fanOut(txn, subs, ev, now, notes); err != nil {
			return fmt.Errorf("fanning out event %s: %w", ev.Name, err)
		}
	}
	return nil
}

// syncWritten makes the written batches durable: their records appended to
// the commit log, or, without a log or when it is full, Badger synced.
func (s *Store) syncWritten(ws []written) error {
	l := s.clog
	if l == nil || l.failed {
		return s.syncCommitted()
	}
	if slices.ContainsFunc(ws, func(w written) bool { return w.record == nil }) {
		return s.syncBadger()
	}
	recs, seq := l.buf[:0], l.next
	for _, w := range ws {
		recs = appendRecord(recs, seq, func(b []byte) []byte { return append(b, w.record...) })
		seq++
	}
	l.buf = nil // a group of batches may be large: keep what a usual one needs
	if cap(recs) <= maxBatchBytes {
		l.buf = recs[:0]
	}
	err := l.write(recs, seq)
	switch {
	case err == nil:
		// Badger's full memtable logs are synced as before, a batch after
		// they fill: not for these commits, which the log holds, but so
		// that a crash of the system loses no older write of Badger's
		// while keeping a newer one (replay.go).
		if err := s.logs.syncSealed(); err != nil {
			s.logger.Warn("syncing Badger's full logs (tried again at the next commit)", zap.Error(err))
		}
		return nil
	case !errors.Is(err, errLogFull):
		// The log's state is unknown: Badger's sync, as without one.
		l.failed = true
		s.logger.Error("the commit log failed: synced commits are made durable by syncing the whole store from now on", zap.Error(err))
	}
	return s.syncBadger()
}

// syncBadger syncs Badger's files, which then hold every record of the
// commit log: the log starts again.
func (s *Store) syncBadger() error {
	if err := s.syncCommitted(); err != nil {
		return err
	}
	s.clog.rewind()
	return nil
}

// syncCommitted makes the caller's commit, made just before, durable. One
// fsync covers every commit made before it started, so concurrent callers
// (the committer, admin changes) share fsyncs instead of queueing one each.
func (s *Store) syncCommitted() error {
	mine := s.commits.Add(1)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.syncedTo >= mine {
		return nil // an fsync that started after our commit covered it
	}
	upTo := s.commits.Load()
	if err := s.db.Sync(); err != nil {
		return err
	}
	if err := s.logs.syncSealed(); err != nil {
		return err
	}
	s.syncedTo = upTo
	return nil
}
