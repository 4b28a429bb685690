package delivery

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// statsEvery is how often the subscriptions' stats are written.
const statsEvery = 500 * time.Millisecond

// statsBook collects the effect of attempts on their subscriptions' stats
// and writes them in batches: every delivery touching its subscription's
// record in the delivery's own transaction made concurrent deliveries of
// one subscription conflict with each other.
type statsBook struct {
	mu      sync.Mutex
	pending map[string]*statDelta
}

// statDelta is what happened to one subscription since the last flush.
type statDelta struct {
	sent, failed int64
	lastSentAt   *time.Time
	lastError    *string
	// succeeded: a delivery succeeded, so consecutive failures count
	// again from failsAfter; otherwise failsAfter adds to them.
	succeeded  bool
	failsAfter int64
	gone       bool // a 410: pause now
}

// note records the outcome of one attempt.
func (b *statsBook) note(subID string, o Outcome, errMsg string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.pending[subID]
	if st == nil {
		st = new(statDelta)
		b.pending[subID] = st
	}
	switch o {
	case Delivered:
		st.sent++
		st.lastSentAt = &now
		st.succeeded, st.failsAfter = true, 0
	case Retry:
		st.lastError = &errMsg
	default:
		st.failed++
		st.lastError = &errMsg
		st.failsAfter++
		st.gone = st.gone || o == Gone
	}
}

func (b *statsBook) take() map[string]*statDelta {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.pending
	b.pending = map[string]*statDelta{}
	return out
}

func (d *Dispatcher) flushLoop() {
	defer d.loopWG.Done()
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.flushStats()
		}
	}
}

// flushStats writes the noted stats, and pauses subscriptions that a 410
// or disable_after calls for.
func (d *Dispatcher) flushStats() {
	cfg := d.cfg.Load()
	for subID, st := range d.stats.take() {
		var paused string
		_, err := d.store.UpdateSubscription(d.ctx, subID, func(s *webhook.Subscription) error {
			paused = ""
			s.Stats.TotalSent += st.sent
			s.Stats.TotalFailed += st.failed
			if st.lastSentAt != nil {
				s.Stats.LastSentAt = st.lastSentAt
			}
			if st.lastError != nil {
				s.Stats.LastError = st.lastError
			}
			if st.succeeded {
				s.Stats.ConsecutiveFailures = 0
			}
			s.Stats.ConsecutiveFailures += st.failsAfter
			reason := ""
			switch {
			case st.gone:
				reason = "the receiver answered 410 Gone"
			case cfg.DisableAfter > 0 && st.failsAfter > 0 && s.Stats.ConsecutiveFailures >= int64(cfg.DisableAfter):
				reason = fmt.Sprintf("%d consecutive failed deliveries", s.Stats.ConsecutiveFailures)
			}
			if reason != "" && s.IsActive {
				s.IsActive, s.DisabledReason, paused = false, &reason, reason
			}
			return nil
		})
		switch {
		case errors.Is(err, webhook.ErrNotFound): // deleted meanwhile
		case err != nil:
			d.log().Error("writing subscription stats", zap.String("subscription", subID), zap.Error(err))
		case paused != "":
			d.log().Warn("subscription_paused", zap.String("subscription", subID), zap.String("reason", paused))
		}
	}
}
