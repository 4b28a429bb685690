package natsstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// scanOpts choose the records a scan reads.
type scanOpts struct {
	subjects    []string
	since       time.Time // stored at or after; zero: all
	headersOnly bool
}

// scan reads the last record of each subject the filters match, in
// stream order, with an ordered consumer, until it has read what the
// stream held when it started or fn fails.
func (s *Store) scan(ctx context.Context, o scanOpts, fn func(jetstream.Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: o.subjects, HeadersOnly: o.headersOnly, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy}
	if !o.since.IsZero() {
		since := o.since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	rctx, cancel := withTimeout(ctx)
	defer cancel()
	cons, err := s.js.OrderedConsumer(rctx, s.ledger.CachedInfo().Config.Name, cfg)
	if err != nil {
		return natsError("reading the ledger", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return natsError("reading the ledger", err)
	}
	defer it.Stop()
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return natsError("reading the ledger", err)
		}
		if err := fn(m); err != nil {
			return err
		}
		if meta, err := m.Metadata(); err != nil || meta.NumPending == 0 {
			return nil
		}
	}
}

// clockSkew is how far the clocks of the nodes and the servers may be
// apart: an event inferred at T is committed by the server's clock at
// T-clockSkew or later.
const clockSkew = time.Minute

// EventsSince calls fn for each stored event inferred at or after since,
// in time order: the events stored since since-clockSkew, sorted in
// memory (commits of several nodes interleave).
func (s *Store) EventsSince(ctx context.Context, since time.Time, fn func(webhook.Event) error) error {
	return s.use(ctx, func(ctx context.Context) error {
		var evs []webhook.Event
		o := scanOpts{subjects: []string{s.subject("e.>")}}
		if since.After(time.Unix(0, 0).Add(clockSkew)) {
			o.since = since.Add(-clockSkew)
		}
		err := s.scan(ctx, o, func(m jetstream.Msg) error {
			if isMarker(m.Headers()) {
				return nil
			}
			var ev webhook.Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return fmt.Errorf("storage nats: decoding event record %s: %w", m.Subject(), err)
			}
			if !ev.Time.Before(since) {
				evs = append(evs, ev)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(evs, func(a, b webhook.Event) int {
			return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
		})
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count answers from what this node follows, with no request to the
// cluster: the events and the finished deliveries by status from the
// tally its watch of the ledger keeps (tally.go), the pending ones from its
// due index, the subscriptions from its cache.
func (s *Store) Count(ctx context.Context) (webhook.Counts, error) {
	var c webhook.Counts
	err := s.use(ctx, func(context.Context) error {
		n := s.index.tally.counts()
		c = webhook.Counts{Events: n[kindEvent], QueueDepth: s.index.size(), Deliveries: map[string]int64{
			webhook.Succeeded: n[kindSucceeded], webhook.Failed: n[kindFailed], webhook.Cancelled: n[kindCancelled],
		}}
		c.Deliveries[webhook.Pending] = c.QueueDepth
		for _, sub := range s.subs.all() {
			c.Subscriptions++
			if sub.IsActive {
				c.Active++
			}
		}
		return nil
	})
	return c, err
}
