package natsstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestGroupCommit: writes queued while the node's batches are in flight
// go as one atomic batch; when the cluster refuses it (one write's
// compare-and-set lost), each write is sent alone and gets its own answer:
// the others are stored, the lost one is a conflict.
func TestGroupCommit(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	s := openStore(t, c.URL(), "group")
	sub := webhook.NewID("sub_", time.Now())
	create := func(id string, rev uint64) []batchMsg {
		h := expectSeq(rev)
		h.Set(hdrStatus, webhook.Pending)
		h.Set(hdrDue, unixNano(time.Now()))
		return []batchMsg{{subject: s.subject(deliveryKey(sub, id)), data: []byte(`{}`), h: h}}
	}
	stored := func(id string) bool {
		m, err := s.lastMsg(context.Background(), s.subject(deliveryKey(sub, id)))
		return err == nil && m != nil
	}

	ids := []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"}
	var writes [][]batchMsg
	for _, id := range ids {
		writes = append(writes, create(id, 0))
	}
	before := s.group.batches.Load()
	seqs, errs := together(t, s, writes)
	if n := s.group.batches.Load() - before; n != 1 {
		t.Errorf("8 writes queued together went in %d batches, want 1", n)
	}
	for i, id := range ids {
		m, err := s.lastMsg(context.Background(), s.subject(deliveryKey(sub, id)))
		if errs[i] != nil || err != nil || m == nil || m.Sequence != seqs[i] {
			t.Errorf("write %s: seq %d, %v; stored %+v, %v", id, seqs[i], errs[i], m, err)
		}
	}

	// d1 exists: creating it again loses its compare-and-set.
	_, errs = together(t, s, [][]batchMsg{create("d9", 0), create("d1", 0), create("d10", 0)})
	if errs[0] != nil || !errors.Is(errs[1], errConflict) || errs[2] != nil {
		t.Errorf("a refused batch's writes answered %v; want nil, a conflict, nil", errs)
	}
	if !stored("d9") || !stored("d10") {
		t.Error("the writes of a refused batch that had not lost were not stored alone")
	}
}

// together makes writes while every flusher of the group is busy, so that
// they queue, then lets one flusher send them.
func together(t *testing.T, s *Store, writes [][]batchMsg) ([]uint64, []error) {
	t.Helper()
	g := &s.group
	g.mu.Lock()
	g.flushing += groupFlushers // as if every flusher were busy
	g.mu.Unlock()
	seqs, errs := make([]uint64, len(writes)), make([]error, len(writes))
	var wg sync.WaitGroup
	for i, msgs := range writes {
		wg.Go(func() { seqs[i], errs[i] = g.write(context.Background(), msgs) })
	}
	within(t, "the writes queue", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == len(writes)
	})
	g.mu.Lock()
	g.flushing -= groupFlushers - 1
	s.ops.Add(1)
	g.mu.Unlock()
	go g.flush()
	wg.Wait()
	return seqs, errs
}

// TestClaimRoundTrips: claiming deliveries of events this node committed
// is one write each (no read of the record nor of the event), and so is
// recording their results (from the record the claim wrote): counted in
// messages sent to the cluster, where a claim used to be three requests
// and a result two.
func TestClaimRoundTrips(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	s := openStore(t, c.URL(), "trips")
	s.owns = func(context.Context, string) bool { return true }
	ctx := context.Background()
	sub := testSub("order.created")
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	var evs []webhook.Event
	for range 10 {
		evs = append(evs, testEvent("order.created"))
	}
	if err := s.Commit(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	out := func() uint64 { return s.nc.Stats().OutMsgs }
	before := out()
	claims, _, err := s.Claim(ctx, time.Now().Add(time.Second), time.Minute, 10, []webhook.Want{{SubID: sub.ID, Max: 10}})
	if err != nil || len(claims) != 10 {
		t.Fatalf("claimed %d, %v; want 10", len(claims), err)
	}
	if n := out() - before; n > 10+4 {
		t.Errorf("claiming 10 deliveries sent %d messages to the cluster, want about 10 (one write each)", n)
	}
	before = out()
	for _, cl := range claims {
		if _, err := s.UpdateDelivery(ctx, cl.Delivery.ID, func(d *webhook.Delivery) error {
			d.Status, d.NextAttemptAt = webhook.Succeeded, nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := out() - before; n > 10+4 {
		t.Errorf("recording 10 results sent %d messages to the cluster, want about 10 (one write each)", n)
	}
	for _, cl := range claims {
		if d, err := s.Delivery(ctx, cl.Delivery.ID); err != nil || d.Status != webhook.Succeeded || len(d.Attempts) != 0 {
			t.Errorf("delivery %s after its result: %+v, %v", cl.Delivery.ID, d, err)
		}
	}
}

// TestDeliveryWriteResent: a claim's write that the cluster does not take
// (no responders: here the ledger stops listening to the deliveries'
// subjects, as between a stream leader's death and its successor's
// election, or before a new leader's interest reaches this node's server)
// is sent again until it is taken, and the claim succeeds. It failed at
// once when the claim's write went through the group without a retry.
func TestDeliveryWriteResent(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	s := openStore(t, c.URL(), "resent")
	s.owns = func(context.Context, string) bool { return true }
	ctx := context.Background()
	sub := testSub("order.created")
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []webhook.Event{testEvent("order.created")}, nil); err != nil {
		t.Fatal(err)
	}
	listen := func(subjects ...string) {
		t.Helper()
		st, err := s.js.Stream(ctx, "KV_resent")
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		cfg.Subjects = subjects
		if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	listen(s.subject("e.>"), s.subject("s.>"))
	// The stream leader's interest leaves the other servers a moment
	// after the update's answer: probe until a delivery's subject has no
	// responder (the probe's sequence check keeps it from being stored).
	within(t, "no responder for the deliveries' subjects", func() bool {
		_, err := s.nc.RequestMsg(&nats.Msg{Subject: s.subject("d.probe"), Header: expectSeq(1 << 40)}, time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	})

	type result struct {
		claims int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		claims, _, err := s.Claim(ctx, time.Now().Add(time.Second), time.Minute, 1, []webhook.Want{{SubID: sub.ID, Max: 1}})
		done <- result{len(claims), err}
	}()
	var got *result
	within(t, "the claim's write sent again or the claim over", func() bool {
		select {
		case r := <-done:
			got = &r
			return true
		default:
			return s.group.resent.Load() > 0
		}
	})
	listen(s.subject(">"))
	if got == nil {
		r := <-done
		got = &r
	}
	if got.err != nil || got.claims != 1 {
		t.Fatalf("a claim made while the ledger took no delivery write claimed %d, %v; want 1, nil (the write sent again once taken)", got.claims, got.err)
	}
}
