package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// stored is a delivery as read: its revision is that of its record, 0 for
// one its event implies.
type stored struct {
	d   *webhook.Delivery
	rev uint64
	was string // the record's Wh-Was for the write that replaces it (tally.go)
}

// implied is the delivery that an index entry stands for before its
// first record.
func implied(p *pending) *webhook.Delivery {
	due := p.due
	d := &webhook.Delivery{
		ID: p.id, EventID: p.event, Event: p.name, SubscriptionID: p.sub, Status: webhook.Pending,
		Attempts: []webhook.Attempt{}, NextAttemptAt: &due, CreatedAt: p.due, UpdatedAt: p.due,
		OrderKey: orderKeyOf(p.line),
	}
	if p.waiting {
		d.Waiting, d.NextAttemptAt = true, nil
	}
	return d
}

// readDelivery reads a delivery: its record (found through the index, or
// by its id alone), or the delivery its event implies.
func (s *Store) readDelivery(ctx context.Context, id string) (stored, error) {
	notFound := fmt.Errorf("delivery %s: %w", id, webhook.ErrNotFound)
	if !tokenRE.MatchString(id) {
		return stored{}, notFound
	}
	p := s.index.lookup(id)
	subject := s.subject("d.*." + id)
	if p != nil {
		subject = s.subject(deliveryKey(p.sub, id))
	}
	m, err := s.lastMsg(ctx, subject)
	if err != nil {
		return stored{}, natsError("reading delivery "+id, err)
	}
	if m == nil && p != nil && !p.recorded {
		return stored{d: implied(p)}, nil
	}
	if gone(m) {
		return stored{}, notFound
	}
	d := new(webhook.Delivery)
	if err := json.Unmarshal(m.Data, d); err != nil {
		return stored{}, fmt.Errorf("storage nats: decoding delivery %s: %w", id, err)
	}
	s.showWaiting(d)
	return stored{d: d, rev: m.Sequence, was: was(d.Status, expiry(m.Time, m.Header), m.Sequence)}, nil
}

// putDelivery writes a delivery if its record is still the one read (its
// revision; 0: none yet), with the headers the due index and the tally
// read; a finished one expires after the retention. A lost race is
// errConflict; a write the cluster did not take is sent again
// (writeTaken).
func (s *Store) putDelivery(ctx context.Context, d *webhook.Delivery, read stored) (uint64, error) {
	data, err := d.AppendJSON(nil)
	if err != nil {
		return 0, fmt.Errorf("storage nats: encoding delivery %s: %w", d.ID, err)
	}
	h := expectSeq(read.rev)
	if read.was != "" {
		h.Set(hdrWas, read.was)
	}
	if err := s.deliveryHeaders(h, d); err != nil {
		return 0, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	seq, err := s.group.writeTaken(ctx, []batchMsg{{subject: s.subject(deliveryKey(d.SubscriptionID, d.ID)), data: data, h: h}})
	if errors.Is(err, errConflict) {
		return 0, err
	}
	return seq, natsError("storing delivery "+d.ID, err)
}

// deliveryHeaders sets the headers of d's record that the due index and
// the tally read; a finished one expires after the retention. A waiting
// delivery's record (a redelivery that joins its line) keeps a due time:
// the index decides when it may be claimed.
func (s *Store) deliveryHeaders(h nats.Header, d *webhook.Delivery) error {
	h.Set(hdrStatus, d.Status)
	if d.OrderKey != "" {
		h.Set(hdrOrder, orderToken(d.OrderKey))
	}
	if d.Status != webhook.Pending {
		withTTL(h, s.config().Retention)
		return nil
	}
	due := d.NextAttemptAt
	if due == nil && d.Waiting {
		due = &d.UpdatedAt
	}
	if due == nil {
		return fmt.Errorf("storage nats: delivery %s: pending without a due time", d.ID)
	}
	h.Set(hdrDue, unixNano(*due))
	return nil
}

// Delivery returns one delivery, or an error wrapping ErrNotFound.
func (s *Store) Delivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	var d *webhook.Delivery
	err := s.use(ctx, func(ctx context.Context) error {
		st, err := s.readDelivery(ctx, id)
		d = st.d
		return err
	})
	return d, err
}

// UpdateDelivery applies fn to a delivery and writes it if its record did
// not change meanwhile; otherwise fn runs again on the fresh record.
func (s *Store) UpdateDelivery(ctx context.Context, id string, fn func(*webhook.Delivery) error) (*webhook.Delivery, error) {
	var out *webhook.Delivery
	err := s.use(ctx, func(ctx context.Context) error {
		d, err := s.updateDelivery(ctx, id, fn)
		out = d
		return err
	})
	return out, err
}

// updateDelivery starts from what this node last wrote of the delivery
// (a claim), else reads it; a conflict reads it again.
func (s *Store) updateDelivery(ctx context.Context, id string, fn func(*webhook.Delivery) error) (*webhook.Delivery, error) {
	st, kept := s.recent.record(id)
	for {
		if !kept {
			var err error
			if st, err = s.readDelivery(ctx, id); err != nil {
				return nil, err
			}
		}
		if err := fn(st.d); err != nil {
			return nil, err
		}
		seq, err := s.putDelivery(ctx, st.d, st)
		if errors.Is(err, errConflict) {
			s.recent.forget(id)
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("%w (after a write conflict)", err)
			}
			kept = false
			continue
		}
		if err != nil {
			return nil, err
		}
		s.recent.wrote(st.d, seq)
		err = s.index.applied.wait(ctx, seq)
		s.showWaiting(st.d) // a redelivery may wait in its line
		return st.d, err
	}
}

// Deliveries lists a subscription's deliveries, newest first, of one
// status ("" for any), at most limit: its records, read from the ledger,
// and the deliveries its events imply.
func (s *Store) Deliveries(ctx context.Context, subID, status string, limit int) ([]*webhook.Delivery, error) {
	var out []*webhook.Delivery
	err := s.use(ctx, func(ctx context.Context) error {
		top := newestFirst{limit: limit}
		if status == "" || status == webhook.Pending {
			for _, p := range s.index.of(subID) {
				if !p.recorded {
					top.add(implied(&p))
				}
			}
		}
		err := s.scan(ctx, scanOpts{subjects: []string{s.subject("d." + subKey(subID) + ".>")}}, func(m jetstream.Msg) error {
			if isMarker(m.Headers()) || (status != "" && m.Headers().Get(hdrStatus) != status) {
				return nil
			}
			d := new(webhook.Delivery)
			if err := json.Unmarshal(m.Data(), d); err != nil {
				return fmt.Errorf("storage nats: decoding delivery record %s: %w", m.Subject(), err)
			}
			s.showWaiting(d)
			top.add(d)
			return nil
		})
		out = top.list()
		return err
	})
	return out, err
}

// newestFirst keeps the limit deliveries of highest id (ids sort by
// creation time).
type newestFirst struct {
	limit int
	ds    []*webhook.Delivery
}

func (n *newestFirst) add(d *webhook.Delivery) {
	n.ds = append(n.ds, d)
	if len(n.ds) > 2*n.limit+64 {
		n.ds = n.list()
	}
}

func (n *newestFirst) list() []*webhook.Delivery {
	slices.SortFunc(n.ds, func(a, b *webhook.Delivery) int { return strings.Compare(b.ID, a.ID) })
	return n.ds[:min(len(n.ds), max(n.limit, 0))]
}

// AddDeliveries creates a due-now delivery record of each event for sub
// (a replay), in one atomic batch.
func (s *Store) AddDeliveries(ctx context.Context, sub *webhook.Subscription, events []webhook.Event) (int, error) {
	if len(events) == 0 {
		return 0, ctx.Err()
	}
	err := s.use(ctx, func(ctx context.Context) error {
		now := time.Now().UTC()
		msgs := make([]batchMsg, len(events))
		for i := range events {
			d := webhook.NewDelivery(sub, &events[i], now)
			data, err := d.AppendJSON(nil)
			if err != nil {
				return fmt.Errorf("storage nats: encoding delivery %s: %w", d.ID, err)
			}
			h := nats.Header{}
			if err := s.deliveryHeaders(h, d); err != nil {
				return err
			}
			msgs[i] = batchMsg{subject: s.subject(deliveryKey(sub.ID, d.ID)), data: data, h: h}
		}
		start := time.Now()
		seq, err := s.publishBatch(ctx, msgs)
		observePublish(start, err)
		if err != nil {
			return natsError("storing the replayed deliveries", err)
		}
		return s.index.applied.wait(ctx, seq)
	})
	if err != nil {
		return 0, err
	}
	return len(events), nil
}

// QueueDepth is the number of pending deliveries in this node's index.
func (s *Store) QueueDepth() int64 { return s.index.size() }

// cancelPending cancels a subscription's pending deliveries, claimed or
// not.
func (s *Store) cancelPending(ctx context.Context, subID string) error {
	for _, p := range s.index.of(subID) {
		if err := s.cancelDelivery(ctx, p.id); err != nil {
			return err
		}
	}
	return nil
}

// cancelDelivery cancels a delivery if it is pending.
func (s *Store) cancelDelivery(ctx context.Context, id string) error {
	_, err := s.updateDelivery(ctx, id, func(d *webhook.Delivery) error {
		if d.Status != webhook.Pending {
			return errNotPending
		}
		now := time.Now().UTC()
		d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.Cancelled, nil, now
		return nil
	})
	if errors.Is(err, errNotPending) || errors.Is(err, webhook.ErrNotFound) {
		return nil
	}
	return err
}

// errNotPending stops an update of a delivery that finished meanwhile.
var errNotPending = errors.New("not pending")
