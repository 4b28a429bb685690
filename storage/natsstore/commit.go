package natsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Commit stores events, with their fan-out, and snapshots in one atomic
// batch. With Sync, or with snapshots (the next request on the resource
// reads them), it returns once a majority of the replicas hold the batch
// and this node's due index shows it; with Async and no snapshots it
// returns at once and failures go to Settings.NotStored.
func (s *Store) Commit(ctx context.Context, events []webhook.Event, snaps []webhook.Snapshot) error {
	if len(events) == 0 && len(snaps) == 0 {
		return ctx.Err()
	}
	set := s.config()
	return s.use(ctx, func(ctx context.Context) error {
		msgs, err := s.commitMsgs(events, snaps, set.Retention)
		if err != nil {
			return err
		}
		s.recent.committed(events, time.Now(), set.Retention) // a claim sends them: see recent
		if set.Durability == webhook.Async && len(snaps) == 0 {
			s.commitAsync(events, msgs, set)
			return nil
		}
		return s.commit(ctx, msgs, len(events) > 0)
	})
}

// commit publishes a batch and, if it has events, waits until the due
// index shows them.
func (s *Store) commit(ctx context.Context, msgs []batchMsg, events bool) error {
	seq, err := s.publishRetried(ctx, msgs)
	if errors.Is(err, errConflict) {
		return fmt.Errorf("storage nats: another node changed the resource state while this request held its lock (the lock ran out): %w", err)
	}
	if err != nil {
		return natsError("storing events", err)
	}
	s.locks.committed(msgs)
	if events && seq > 0 {
		return s.index.applied.wait(ctx, seq)
	}
	return nil
}

// commitAsync publishes in the background; Close waits for it.
func (s *Store) commitAsync(events []webhook.Event, msgs []batchMsg, set storage.Settings) {
	s.ops.Add(1) // within use: the store is not closed yet
	go func() {
		defer s.ops.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.closing), requestTimeout)
		defer cancel()
		if err := s.commit(ctx, msgs, false); err != nil && set.NotStored != nil {
			set.NotStored(events, err)
		}
	}()
}

// commitMsgs are a commit's records: the snapshots first, then the events
// (so the batch's last sequence is an event's, which the watch sees).
func (s *Store) commitMsgs(events []webhook.Event, snaps []webhook.Snapshot, retention time.Duration) ([]batchMsg, error) {
	msgs := make([]batchMsg, 0, len(events)+len(snaps))
	for _, sn := range lastPerKey(snaps) {
		m, err := s.snapshotMsg(sn, retention)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	now := time.Now().UTC()
	subs := s.ActiveSubscriptions()
	for i := range events {
		m, err := s.eventMsg(&events[i], subs, now, retention)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// lastPerKey keeps the last snapshot of each key, in order: several rules
// of one request may remember one resource, and the last one written
// wins; two records of one subject in a batch would both expect the
// revision read under the lock, and the second would refuse the batch.
func lastPerKey(snaps []webhook.Snapshot) []webhook.Snapshot {
	last := make(map[string]int, len(snaps))
	for i, sn := range snaps {
		last[sn.Key] = i
	}
	out := make([]webhook.Snapshot, 0, len(last))
	for i, sn := range snaps {
		if last[sn.Key] == i {
			out = append(out, sn)
		}
	}
	return out
}

// eventMsg is an event's record, its fan-out in a header: the id of a
// delivery for each active subscription that wants it.
func (s *Store) eventMsg(ev *webhook.Event, subs []*webhook.Subscription, now time.Time, retention time.Duration) (batchMsg, error) {
	if !tokenRE.MatchString(ev.ID) {
		return batchMsg{}, fmt.Errorf("storage nats: event id %q: only letters, digits, _ and - can be stored", ev.ID)
	}
	data, err := ev.AppendJSON(nil)
	if err != nil {
		return batchMsg{}, fmt.Errorf("storage nats: encoding event %s: %w", ev.Name, err)
	}
	var fan, ordered []string
	env := payload.NewEnvelope(ev) // decoded once for every filter
	for _, sub := range subs {
		if env.Receives(sub) {
			fan = append(fan, webhook.NewID("dlv_", now)+" "+subKey(sub.ID))
			if sub.Ordered {
				ordered = append(ordered, subKey(sub.ID))
			}
		}
	}
	h := nats.Header{"Nats-Msg-Id": {ev.ID}, hdrAt: {unixNano(now)}, hdrName: {ev.Name}}
	if len(fan) > 0 {
		h.Set(hdrFanout, strings.Join(fan, ","))
		orderHeaders(h, ev, ordered)
	}
	withTTL(h, retention)
	return batchMsg{subject: s.subject(eventKey(ev.ID)), data: data, h: h}, nil
}

// snapRecord is a snapshot as stored: with its key, since the record's key
// is the key's hash.
type snapRecord struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// snapKey is the ledger key of a state key.
func snapKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "s." + hex.EncodeToString(sum[:])
}

// snapshotMsg is a snapshot's record, or the delete marker that forgets
// it; under this node's lock of its key, it expects the record read.
func (s *Store) snapshotMsg(sn webhook.Snapshot, retention time.Duration) (batchMsg, error) {
	h := nats.Header{}
	if seq, ok := s.locks.readSeq(sn.Key); ok {
		h = expectSeq(seq)
	}
	m := batchMsg{subject: s.subject(snapKey(sn.Key)), h: h, key: sn.Key}
	if sn.Value == nil {
		h.Set(hdrKVOp, "DEL")
		withTTL(h, markerTTL)
		return m, nil
	}
	data, err := json.Marshal(snapRecord{Key: sn.Key, Value: sn.Value})
	if err != nil {
		return m, fmt.Errorf("storage nats: encoding state %s: %w", sn.Key, err)
	}
	m.data = data
	withTTL(h, retention)
	return m, nil
}

// Snapshot reads the state remembered under key, nil when none. Under
// this node's lock of the key, the record's revision is remembered: the
// commit that writes the key expects it.
func (s *Store) Snapshot(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.use(ctx, func(ctx context.Context) error {
		m, err := s.lastMsg(ctx, s.subject(snapKey(key)))
		if err != nil {
			return natsError("reading state", err)
		}
		var seq uint64
		if m != nil {
			seq = m.Sequence
		}
		s.locks.read(key, seq)
		if gone(m) {
			return nil
		}
		var rec snapRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			return fmt.Errorf("storage nats: decoding state %s: %w", key, err)
		}
		if rec.Key == key { // else a hash collision: not this key's state
			out = rec.Value
		}
		return nil
	})
	return out, err
}

// publishRetried is publishBatch tried again, for up to failoverWait,
// while the cluster answers that it did not take the batch (no server
// answered, JetStream unavailable: a leader election, a reconnection), or
// gives no answer in publishTry and the batch is not found stored (its
// last record, an event's, is looked for by its id). A batch without
// events is not tried again after no answer: its fate is unknown, and a
// snapshot written twice would fail its sequence check.
func (s *Store) publishRetried(ctx context.Context, msgs []batchMsg) (uint64, error) {
	deadline := time.Now().Add(failoverWait)
	for {
		try, cancel := context.WithTimeout(ctx, publishTry)
		start := time.Now()
		seq, err := s.group.write(try, msgs)
		cancel()
		observePublish(start, err)
		switch {
		case err == nil:
			return seq, nil
		case noAnswer(err) && ctx.Err() == nil:
			seq, stored, verr := s.batchStored(ctx, msgs)
			if verr != nil || stored {
				return seq, verr
			}
			if !endsWithEvent(msgs) {
				return 0, err
			}
		case !notTaken(err):
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(republishEvery):
		}
	}
}

// publishTry bounds one try of a batch: a stream leader acknowledges in
// milliseconds; no answer in this long means it is gone (or the batch is).
const publishTry = 3 * time.Second

// noAnswer says whether a publish got no answer in time: the batch may or
// may not be stored.
func noAnswer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// endsWithEvent says whether the batch's last record is an event's (it is
// when it has events: they come last), whose id tells whether it is
// stored.
func endsWithEvent(msgs []batchMsg) bool {
	return len(msgs) > 0 && msgs[len(msgs)-1].h.Get(nats.MsgIdHdr) != ""
}

// batchStored says whether a batch that got no answer was stored after
// all, by reading its last record (atomic: all of it or none), and returns
// that record's sequence.
func (s *Store) batchStored(ctx context.Context, msgs []batchMsg) (uint64, bool, error) {
	if !endsWithEvent(msgs) {
		return 0, false, nil
	}
	last := msgs[len(msgs)-1]
	m, err := s.lastMsg(ctx, last.subject)
	if err != nil {
		return 0, false, err
	}
	if gone(m) || m.Header.Get(nats.MsgIdHdr) != last.h.Get(nats.MsgIdHdr) {
		return 0, false, nil
	}
	return m.Sequence, true, nil
}

// republishEvery is how often publishRetried tries again.
const republishEvery = 100 * time.Millisecond

// notTaken says whether err means the cluster did not take a batch.
func notTaken(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code == 503 {
		return true
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected)
}
