package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Claim claims, for each want in turn, up to Max due deliveries of its
// subscription, at most budget in all: each by a compare-and-set write of
// its record (created for an implied delivery) due again at now+lease.
// A write that loses the race (another worker or node) is skipped and the
// next due delivery tried. It returns the earliest due time after now of
// the subscriptions looked at. Until the index has read the ledger at
// start, it claims nothing.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	var claims []webhook.Claim
	var next time.Time
	err := s.use(ctx, func(ctx context.Context) error {
		if !s.index.isReady() {
			return nil
		}
		s.sweepOrphans(ctx)
		var last uint64
		for _, w := range wants {
			sub := s.subs.get(w.SubID)
			if len(claims) >= budget || sub == nil || !s.owns(ctx, w.SubID) {
				continue
			}
			most := min(w.Max, budget-len(claims))
			// Some of the due ones may be claimed meanwhile (the index
			// lags a little): read more than most.
			due, n := s.index.due(w.SubID, now, 2*most+claimParallel)
			if !n.IsZero() && (next.IsZero() || n.Before(next)) {
				next = n
			}
			got, seq, err := s.claimSub(ctx, sub, due, most, now, lease)
			claims, last = append(claims, got...), max(last, seq)
			if err != nil {
				return err
			}
		}
		return s.index.applied.wait(ctx, last)
	})
	return claims, next, err
}

// claimParallel is how many claims of one subscription are in flight at
// once: each is three requests to the cluster one after the other (read
// the record, read the event, write the record), so one at a time would
// bound a node to a few hundred claims a second.
const claimParallel = 16

// claimSub claims up to most of a subscription's due deliveries, earliest
// first, claimParallel at a time, and returns the last sequence it wrote.
// Those that another node or worker claimed first are skipped and the
// next due ones tried.
func (s *Store) claimSub(ctx context.Context, sub *webhook.Subscription, due []pending, most int, now time.Time, lease time.Duration) ([]webhook.Claim, uint64, error) {
	var out []webhook.Claim
	var last uint64
	for i := 0; i < len(due) && len(out) < most; {
		n := min(most-len(out), len(due)-i, claimParallel)
		tries := make([]claimTry, n)
		var wg sync.WaitGroup
		for j := range tries {
			p := due[i+j]
			wg.Go(func() { tries[j].c, tries[j].seq, tries[j].err = s.claimOne(ctx, sub, p, now, lease) })
		}
		wg.Wait()
		i += n
		var failed error
		for _, t := range tries {
			last = max(last, t.seq)
			switch {
			case errors.Is(t.err, errConflict) || errors.Is(t.err, webhook.ErrNotFound):
			case t.err != nil:
				failed = t.err
			case t.c != nil:
				out = append(out, *t.c)
			}
		}
		if failed != nil {
			return out, last, failed
		}
	}
	return out, last, nil
}

// claimTry is the outcome of one claimOne.
type claimTry struct {
	c   *webhook.Claim
	seq uint64
	err error
}

// claimOne claims a delivery if it is still pending and due; one whose
// event is missing waits or is cancelled instead (eventMissing). An
// implied delivery is created at revision 0 without a read (it fails as a
// conflict if a record exists); a recorded one is taken from what this
// node last wrote of it, else read. Its event comes from this node's
// recent commits, else is read.
func (s *Store) claimOne(ctx context.Context, sub *webhook.Subscription, p pending, now time.Time, lease time.Duration) (*webhook.Claim, uint64, error) {
	st, err := s.claimable(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	d := st.d
	if d.Status != webhook.Pending || d.NextAttemptAt == nil || d.NextAttemptAt.After(now) {
		return nil, 0, nil // the index was behind: claimed or finished meanwhile
	}
	ev := s.recent.event(d.EventID, time.Now())
	if ev == nil {
		if ev, err = s.readEvent(ctx, d.EventID); err != nil {
			return nil, 0, err
		}
	}
	if ev == nil {
		s.eventMissing(sub, d, now)
	} else {
		until := now.Add(lease)
		d.NextAttemptAt = &until
	}
	// What this node writes it keeps, so that its next write of the
	// delivery expects this revision (a stale one would conflict for ever).
	seq, err := s.putDelivery(ctx, d, st)
	if errors.Is(err, errConflict) {
		s.recent.forget(d.ID)
	}
	if err != nil {
		return nil, 0, err
	}
	s.recent.wrote(d, seq)
	if ev == nil {
		return nil, seq, nil
	}
	return &webhook.Claim{Delivery: d, Event: ev, Sub: sub}, seq, nil
}

// claimable is the delivery an index entry stands for, to claim.
func (s *Store) claimable(ctx context.Context, p pending) (stored, error) {
	if !p.recorded {
		return stored{d: implied(&p)}, nil
	}
	st, ok := s.recent.record(p.id)
	if !ok {
		var err error
		if st, err = s.readDelivery(ctx, p.id); err != nil {
			return st, err
		}
	}
	if d := st.d; d.Status == webhook.Pending && d.Waiting {
		// Written while it waited; the index has let it go since.
		due := p.due
		d.Waiting, d.NextAttemptAt = false, &due
	}
	return st, nil
}

// A delivery whose event could not be read is looked at again for as long
// as the event may only be out of reach for a moment: a stream leader
// asked for a message just written can answer "not found" though this
// node's watch has seen it (rare; found on the next try). The wait before
// the next look is the event's age, from 1 s up to missingEventRetry.
// Past missingEventWait from the event's time (or its retention, if
// shorter) it is gone: expired, or lost by the cluster.
const (
	missingEventRetry = 30 * time.Second
	missingEventWait  = 5 * time.Minute
)

// eventMissing sets what becomes of a due delivery whose event is not
// there: pending, looked at again later, while the event may be out of
// reach for a moment; cancelled once it is gone. Either is logged: a
// webhook that does not go out (yet).
func (s *Store) eventMissing(sub *webhook.Subscription, d *webhook.Delivery, now time.Time) {
	fields := append(make([]zap.Field, 0, 4), zap.String("delivery", d.ID), zap.String("event", d.EventID), zap.String("subscription", sub.ID))
	at, known := webhook.IDTime(d.EventID)
	gone := at.Add(missingEventWait)
	if retention := s.config().Retention; retention > 0 && retention < missingEventWait {
		gone = at.Add(retention)
	}
	d.UpdatedAt = now
	if !known || !now.Before(gone) {
		s.logger.Warn("delivery cancelled: its event was not found (expired, or lost)", fields...)
		d.Status, d.NextAttemptAt = webhook.Cancelled, nil
		return
	}
	wait := min(max(now.Sub(at), time.Second), missingEventRetry)
	s.logger.Warn("the event of a due delivery was not found, a moment after it was stored; the delivery waits and is tried again",
		append(fields, zap.Duration("retry_in", wait))...)
	retry := now.Add(wait)
	d.NextAttemptAt = &retry
}

// readEvent reads an event, nil when it expired.
func (s *Store) readEvent(ctx context.Context, id string) (*webhook.Event, error) {
	if !tokenRE.MatchString(id) {
		return nil, nil
	}
	m, err := s.lastMsg(ctx, s.subject(eventKey(id)))
	if err != nil {
		return nil, natsError("reading event "+id, err)
	}
	if gone(m) {
		return nil, nil
	}
	ev := new(webhook.Event)
	if err := json.Unmarshal(m.Data, ev); err != nil {
		return nil, fmt.Errorf("storage nats: decoding event %s: %w", id, err)
	}
	return ev, nil
}

// sweepEvery is how often Claim looks for pending deliveries of deleted
// subscriptions: a commit on a node that had not yet seen the delete, or a
// replay racing with it, can make some after the delete cancelled the
// others.
const sweepEvery = 30 * time.Second

// orphans are the subscriptions, absent at the last sweep, that had
// pending deliveries: they are cancelled if still absent at the next (a
// subscription made on another node may reach this one's subscription
// watch after its first deliveries reach the index).
type orphans struct {
	mu       sync.Mutex
	at       time.Time
	suspects map[string]bool
}

// sweepOrphans cancels the pending deliveries of subscriptions deleted
// for a whole sweep interval.
func (s *Store) sweepOrphans(ctx context.Context) {
	o := &s.orphans
	o.mu.Lock()
	if time.Since(o.at) < sweepEvery {
		o.mu.Unlock()
		return
	}
	o.at = time.Now()
	var gone []string
	now := map[string]bool{}
	for _, sub := range s.index.subsWithPending() {
		if s.subs.get(sub) == nil {
			now[sub] = true
			if o.suspects[sub] {
				gone = append(gone, sub)
			}
		}
	}
	o.suspects = now
	o.mu.Unlock()
	for _, sub := range gone {
		if err := s.cancelPending(ctx, sub); err != nil {
			s.logger.Error("cancelling the deliveries of a deleted subscription", zap.String("subscription", sub), zap.Error(err))
		}
	}
}
