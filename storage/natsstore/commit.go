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
	seq, err := s.publishBatch(ctx, msgs)
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
	for _, sn := range snaps {
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

// eventMsg is an event's record, its fan-out in a header: the id of a
// delivery for each active subscription that wants it.
func (s *Store) eventMsg(ev *webhook.Event, subs []*webhook.Subscription, now time.Time, retention time.Duration) (batchMsg, error) {
	if !tokenRE.MatchString(ev.ID) {
		return batchMsg{}, fmt.Errorf("storage nats: event id %q: only letters, digits, _ and - can be stored", ev.ID)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return batchMsg{}, fmt.Errorf("storage nats: encoding event %s: %w", ev.Name, err)
	}
	var fan []string
	for _, sub := range subs {
		if sub.Wants(ev.Name) && sub.AcceptsSite(ev.Site) {
			fan = append(fan, webhook.NewID("dlv_", now)+" "+subKey(sub.ID))
		}
	}
	h := nats.Header{"Nats-Msg-Id": {ev.ID}, hdrAt: {unixNano(now)}, hdrName: {ev.Name}}
	if len(fan) > 0 {
		h.Set(hdrFanout, strings.Join(fan, ","))
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
