package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// A record of the commit log holds the synced commits of one batch: when
// they were made, and each commit's retention, events (as stored) and
// snapshots. The deliveries are not in it: a replay fans the events out
// again to the subscriptions of the time, as a commit made then would.

// logPayload encodes the record of a batch written at at, for the
// syncer; nil when the store has no commit log, or when a value in the
// batch is large enough that Badger may keep it in its value log: the
// key Badger holds would then not prove that the value survived a crash
// (replay.go looks commits up by key), so that batch syncs Badger.
func (s *Store) logPayload(at time.Time, batch []*pending) []byte {
	if s.clog == nil {
		return nil
	}
	for _, p := range batch {
		for _, v := range p.vals {
			if len(v) >= s.valueThreshold/2 {
				return nil
			}
		}
		for _, sn := range p.snaps {
			if len(sn.Value) >= s.valueThreshold/2 {
				return nil
			}
		}
	}
	return appendBatch(nil, at, batch)
}

// appendBatch appends the payload of a batch's record to b.
func appendBatch(b []byte, at time.Time, batch []*pending) []byte {
	b = binary.AppendVarint(b, at.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(batch)))
	for _, p := range batch {
		b = binary.AppendVarint(b, int64(p.set.Retention))
		b = binary.AppendUvarint(b, uint64(len(p.vals)))
		for _, v := range p.vals {
			b = appendBytes(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(p.snaps)))
		for _, sn := range p.snaps {
			b = appendBytes(b, []byte(sn.Key))
			// A nil value (forget the key) is 0, any other its length + 1.
			if sn.Value == nil {
				b = binary.AppendUvarint(b, 0)
				continue
			}
			b = binary.AppendUvarint(b, uint64(len(sn.Value))+1)
			b = append(b, sn.Value...)
		}
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

var errBadRecord = errors.New("malformed commit log record")

// recordReader reads a payload; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail() { r.err, r.b = errBadRecord, nil }

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// varint reads what binary.AppendVarint wrote: zigzag, as a uvarint.
func (r *recordReader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1) //nolint:gosec // G115: 63 bits
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *recordReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// count reads a number of items that each take a byte at least.
func (r *recordReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n) //nolint:gosec // G115: at most len(r.b)
}

// readBatch decodes a record's payload into when the commits it holds
// were made, and the commits.
func readBatch(payload []byte) (time.Time, []*pending, error) {
	r := &recordReader{b: payload}
	at := time.Unix(0, r.varint())
	batch := make([]*pending, r.count())
	for i := range batch {
		p := &pending{set: storage.Settings{Retention: time.Duration(r.varint()), Durability: webhook.Sync}}
		p.vals = make([][]byte, r.count())
		p.events = make([]webhook.Event, len(p.vals))
		for j := range p.vals {
			p.vals[j] = r.bytes(r.uvarint())
			if r.err == nil {
				if err := p.events[j].UnmarshalJSON(p.vals[j]); err != nil {
					return at, nil, fmt.Errorf("%w: event: %w", errBadRecord, err)
				}
			}
		}
		p.snaps = make([]webhook.Snapshot, r.count())
		for j := range p.snaps {
			p.snaps[j].Key = string(r.bytes(r.uvarint()))
			if n := r.uvarint(); n > 0 {
				p.snaps[j].Value = r.bytes(n - 1)
			}
		}
		batch[i] = p
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errBadRecord
	}
	return at, batch, r.err
}

// recoverCommits opens the commit log and writes again into Badger the
// commits in it that Badger lost.
func (s *Store) recoverCommits(opts Options) error {
	size := opts.commitLogSize
	if size == 0 {
		size = commitLogSize
	}
	l, recs, err := openCommitLog(opts.Dir, size, s.logger)
	if err != nil {
		return err
	}
	if err := s.replayCommits(recs, time.Now); err != nil {
		l.Close()
		return err
	}
	s.clog = l
	return nil
}

// replayCommits writes into Badger, in order, the logged commits it does
// not hold and whose retention has not passed, and then syncs it.
func (s *Store) replayCommits(recs []logRecord, clock func() time.Time) error {
	replayed := 0
	for _, rec := range recs {
		at, batch, err := readBatch(rec.payload)
		if err != nil {
			// Its checksum held, so this is a bug, not a torn write: the
			// store opens, and the record is logged whole.
			s.logger.Error("a commit log record cannot be read: not replayed", zap.Uint64("record", rec.seq),
				zap.Binary("payload", rec.payload), zap.Error(err))
			continue
		}
		lost, err := s.lostCommits(at, batch, clock)
		if err != nil {
			return err
		}
		if len(lost) == 0 {
			continue
		}
		n, err := s.writeLost(lost)
		if err != nil {
			return fmt.Errorf("replaying commit log record %d: %w", rec.seq, err)
		}
		replayed += n
	}
	if replayed == 0 {
		return nil
	}
	if err := s.syncCommitted(); err != nil {
		return fmt.Errorf("syncing the commits replayed: %w", err)
	}
	s.logger.Warn("wrote again synced commits that the store had lost (a crash of the system?), from its commit log",
		zap.Int("commits", replayed))
	return nil
}

// writeLost writes lost commits in one transaction, or one at a time if
// Badger refuses them together (more subscriptions fan them out now than
// when they were made); a commit refused alone is logged whole and
// skipped, so that the store still opens. It returns how many it wrote.
func (s *Store) writeLost(lost []*pending) (int, error) {
	notes, err := s.writeBatch(lost)
	switch {
	case err == nil:
		s.noteDue(notes)
		return len(lost), nil
	case !errors.Is(err, badger.ErrTxnTooBig):
		return 0, err
	case len(lost) > 1:
		written := 0
		for _, p := range lost {
			n, err := s.writeLost([]*pending{p})
			if err != nil {
				return written, err
			}
			written += n
		}
		return written, nil
	}
	events := make([]string, len(lost[0].vals))
	for i, v := range lost[0].vals {
		events[i] = string(v)
	}
	s.logger.Error("a commit from the commit log is too big to write again: skipped", zap.Strings("events", events), zap.Error(err))
	return 0, nil
}

// lostCommits returns those of batch's commits (made at time at) that
// Badger does not hold and that are still within their retention, which
// is shortened by the time gone since. clock is read after each lookup:
// Badger judged the record's expiry at an earlier time.
func (s *Store) lostCommits(at time.Time, batch []*pending, clock func() time.Time) ([]*pending, error) {
	var lost []*pending
	err := s.db.View(func(txn *badger.Txn) error {
		for _, p := range batch {
			if len(p.events) == 0 {
				continue // not logged: nothing of it waited for a sync
			}
			_, err := txn.Get(key(prefixEvent, p.events[0].ID))
			if errors.Is(err, badger.ErrKeyNotFound) {
				if p.within(at, clock()) {
					lost = append(lost, p)
				}
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking up logged commits: %w", err)
	}
	return lost, nil
}

// within reports whether a commit made at time at is within its
// retention at now, and shortens the retention by the time gone since.
// Badger expires a record at the whole second after the time it was
// written (later than at) plus the retention.
func (p *pending) within(at, now time.Time) bool {
	ret := p.set.Retention
	if ret <= 0 {
		return true // kept forever
	}
	end := at.Add(ret)
	if now.Unix() >= end.Unix() {
		return false // expired: gone from Badger whether or not it was there
	}
	p.set.Retention = end.Sub(now)
	return true
}
