package natsstore

import (
	"context"
	"sync"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// latestKept is how many of the newest events the ledger watch remembers
// (their ids and names, a few dozen bytes each) for RecentEvents.
const latestKept = 1000

// latestEvents is a ring of the newest events the ledger watch saw, from
// every node, in ledger order.
type latestEvents struct {
	mu   sync.Mutex
	ring [latestKept]latestEvent
	next int // where the next one goes
	n    int // how many are kept
}

type latestEvent struct{ id, name string }

func (l *latestEvents) add(id, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = latestEvent{id, name}
	l.next = (l.next + 1) % latestKept
	l.n = min(l.n+1, latestKept)
}

// newest returns the events kept, newest first, whose name matches
// pattern (every one when it is "").
func (l *latestEvents) newest(pattern string) []latestEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []latestEvent
	for i := range l.n {
		e := l.ring[(l.next-1-i+latestKept)%latestKept]
		if pattern == "" || webhook.EventMatches(pattern, e.name) {
			out = append(out, e)
		}
	}
	return out
}

// RecentEvents returns up to limit of the newest events, newest first,
// whose name matches pattern ("" for all, or a name or pattern such as
// order.*), among the last latestKept events of the cluster this node's
// ledger watch saw (since it started, and those still stored then).
// Events expired meanwhile are left out.
func (s *Store) RecentEvents(ctx context.Context, limit int, pattern string) ([]webhook.Event, error) {
	var out []webhook.Event
	err := s.use(ctx, func(ctx context.Context) error {
		for _, e := range s.index.latest.newest(pattern) {
			if len(out) == limit {
				break
			}
			ev := s.recent.event(e.id, time.Now())
			if ev == nil {
				var err error
				if ev, err = s.readEvent(ctx, e.id); err != nil {
					return err
				}
			}
			if ev != nil {
				out = append(out, *ev)
			}
		}
		return nil
	})
	return out, err
}
