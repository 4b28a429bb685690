package badgerstore

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// fullScanEvery is how often claim scans start from the beginning of each
// subscription's due index rather than where the last one left off: a
// safety net should a delivery ever be due before that point (a clock set
// back). Deliveries of deleted subscriptions are swept then too.
const fullScanEvery = 30 * time.Second

// cursors are where each subscription's next claim scan starts in its due
// index: everything before was claimed, and deliveries committed since
// with an earlier due time are in the hints (noteDue).
type cursors struct {
	mu         sync.Mutex
	from       map[string]time.Time
	fullScanAt time.Time
}

// Claim claims, for each want in turn, up to Max due deliveries of its
// subscription, at most budget in all, and moves each one's due time to
// now+lease: if the process dies during the attempt, the delivery becomes
// due again then (at least once). It returns when the earliest delivery
// not yet due among those scanned will be (zero if none), so the caller
// knows how long it may sleep.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	c := &s.cursors
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from == nil {
		c.from = map[string]time.Time{}
	}
	// Hints before the scans: what commits after this call is in the next.
	for subID, t := range s.dueHints() {
		if from, ok := c.from[subID]; ok && t.Before(from) {
			c.from[subID] = t
		}
	}
	if now.Sub(c.fullScanAt) > fullScanEvery {
		c.fullScanAt = now
		clear(c.from)
		s.sweepOrphans(ctx)
	}
	scans := make([]scan, len(wants))
	for i, w := range wants {
		scans[i] = scan{SubID: w.SubID, From: c.from[w.SubID], Max: w.Max}
	}
	claims, err := s.claimDue(ctx, now, lease, budget, scans)
	if err != nil {
		return nil, time.Time{}, err
	}
	var next time.Time
	for _, sc := range scans {
		if !sc.Scanned {
			continue // the budget ran out first: its turn comes next time
		}
		c.from[sc.SubID] = now
		if !sc.Resume.IsZero() {
			c.from[sc.SubID] = sc.Resume
		}
		if !sc.Next.IsZero() && (next.IsZero() || sc.Next.Before(next)) {
			next = sc.Next
		}
	}
	c.forgetInactive(s.ActiveSubscriptions())
	return claims, next, nil
}

// forgetInactive drops the cursors of paused or deleted subscriptions:
// their scans start from the beginning when they are back.
func (c *cursors) forgetInactive(active []*webhook.Subscription) {
	ids := make(map[string]bool, len(active))
	for _, sub := range active {
		ids[sub.ID] = true
	}
	for subID := range c.from {
		if !ids[subID] {
			delete(c.from, subID)
		}
	}
}

// sweepOrphans cancels the pending deliveries of deleted subscriptions.
func (s *Store) sweepOrphans(ctx context.Context) {
	n, err := s.cancelOrphans(ctx)
	switch {
	case err != nil:
		s.logger.Error("cancelling the deliveries of deleted subscriptions", zap.Error(err))
	case n > 0:
		s.logger.Info("cancelled the deliveries of deleted subscriptions", zap.Int("deliveries", n))
	}
}
