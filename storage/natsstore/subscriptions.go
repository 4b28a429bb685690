package natsstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// subKey is a subscription's key, in P_subs and in delivery keys: its id
// in unpadded base64url, since config ids may hold any character.
func subKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// subID is subKey's inverse.
func subID(key string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	return string(b), err
}

// subsCache follows P_subs: every subscription, by id, as of revision
// applied of the bucket.
type subsCache struct {
	applied progress
	mu      sync.Mutex
	byID    map[string]*webhook.Subscription
	list    atomic.Pointer[[]*webhook.Subscription] // every one, oldest first
}

// followSubs is watchSubs, asked again (retrySetup) while it gets no
// answer: the consumer of a watch asked of a stream just created, its
// cluster still electing the stream's leader, can go unanswered.
func followSubs(ctx context.Context, kv jetstream.KeyValue, changed func(), logger *zap.Logger) (*subsCache, func(), error) {
	var c *subsCache
	var stop func()
	err := retrySetup(ctx, func(ctx context.Context) (err error) {
		c, stop, err = watchSubs(ctx, kv, changed, logger)
		return err
	})
	return c, stop, err
}

// watchSubs reads the bucket into a cache, waits until it holds what the
// bucket held, and keeps it following every change (calling changed
// after each) until stop is called.
func watchSubs(ctx context.Context, kv jetstream.KeyValue, changed func(), logger *zap.Logger) (*subsCache, func(), error) {
	c := &subsCache{byID: map[string]*webhook.Subscription{}, applied: newProgress()}
	c.publish()
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					close(ready)
				}
				continue
			}
			c.apply(e, logger)
			if !initial {
				changed()
			}
		}
	}()
	stop := func() { _ = w.Stop(); cancel(); <-done }
	select {
	case <-ready:
		return c, stop, nil
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	}
}

// apply records one change of the bucket.
func (c *subsCache) apply(e jetstream.KeyValueEntry, logger *zap.Logger) {
	id, err := subID(e.Key())
	if err == nil {
		c.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			sub := new(webhook.Subscription)
			if err = json.Unmarshal(e.Value(), sub); err == nil {
				c.byID[id] = sub
			}
		} else {
			delete(c.byID, id)
		}
		c.publish()
		c.mu.Unlock()
	}
	if err != nil {
		logger.Error("skipping an unreadable subscription record", zap.String("key", e.Key()), zap.Error(err))
	}
	c.applied.advance(e.Revision())
}

// publish rebuilds the list that readers share; c.mu is held.
func (c *subsCache) publish() {
	list := make([]*webhook.Subscription, 0, len(c.byID))
	for _, sub := range c.byID {
		list = append(list, sub)
	}
	slices.SortStableFunc(list, func(a, b *webhook.Subscription) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	c.list.Store(&list)
}

func (c *subsCache) all() []*webhook.Subscription { return *c.list.Load() }

func (c *subsCache) get(id string) *webhook.Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

// ActiveSubscriptions returns the active subscriptions as this node
// follows them (shared: read only).
func (s *Store) ActiveSubscriptions() []*webhook.Subscription {
	var out []*webhook.Subscription
	for _, sub := range s.subs.all() {
		if sub.IsActive {
			out = append(out, sub)
		}
	}
	return out
}

// Subscriptions returns every subscription, oldest first, as this node
// follows them: its own writes are in when they return, other nodes'
// within the watch's latency.
func (s *Store) Subscriptions(ctx context.Context) ([]*webhook.Subscription, error) {
	var out []*webhook.Subscription
	err := s.use(ctx, func(context.Context) error {
		out = slices.Clone(s.subs.all())
		return nil
	})
	return out, err
}

// Subscription reads one subscription from the bucket.
func (s *Store) Subscription(ctx context.Context, id string) (*webhook.Subscription, error) {
	var sub *webhook.Subscription
	err := s.use(ctx, func(ctx context.Context) (err error) {
		sub, _, err = s.readSub(ctx, id)
		return err
	})
	return sub, err
}

// readSub reads a subscription and its revision.
func (s *Store) readSub(ctx context.Context, id string) (*webhook.Subscription, uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	e, err := s.b.subs.Get(ctx, subKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, fmt.Errorf("subscription %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return nil, 0, natsError("reading subscription "+id, err)
	}
	sub := new(webhook.Subscription)
	if err := json.Unmarshal(e.Value(), sub); err != nil {
		return nil, 0, fmt.Errorf("storage nats: decoding subscription %s: %w", id, err)
	}
	return sub, e.Revision(), nil
}

// PutSubscription stores sub, creating or replacing it.
func (s *Store) PutSubscription(ctx context.Context, sub *webhook.Subscription) error {
	return s.use(ctx, func(ctx context.Context) error {
		val, err := json.Marshal(sub) //nolint:gosec // G117: the store keeps the secret to sign with
		if err != nil {
			return fmt.Errorf("storage nats: encoding subscription %s: %w", sub.ID, err)
		}
		rctx, cancel := withTimeout(ctx)
		defer cancel()
		rev, err := s.b.subs.Put(rctx, subKey(sub.ID), val)
		if err != nil {
			return natsError("storing subscription "+sub.ID, err)
		}
		return s.subs.applied.wait(ctx, rev)
	})
}

// UpdateSubscription applies fn to the stored subscription and stores the
// result if its revision is still the one read; otherwise fn runs again on
// the fresh record.
func (s *Store) UpdateSubscription(ctx context.Context, id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error) {
	var out *webhook.Subscription
	err := s.use(ctx, func(ctx context.Context) error {
		for {
			sub, rev, err := s.readSub(ctx, id)
			if err != nil {
				return err
			}
			if err := fn(sub); err != nil {
				return err
			}
			rev, err = s.updateSub(ctx, sub, rev)
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
			if err != nil {
				return err
			}
			out = sub
			return s.subs.applied.wait(ctx, rev)
		}
	})
	return out, err
}

// updateSub writes sub if the key's revision is rev.
func (s *Store) updateSub(ctx context.Context, sub *webhook.Subscription, rev uint64) (uint64, error) {
	val, err := json.Marshal(sub) //nolint:gosec // G117: the store keeps the secret to sign with
	if err != nil {
		return 0, fmt.Errorf("storage nats: encoding subscription %s: %w", sub.ID, err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rev, err = s.b.subs.Update(ctx, subKey(sub.ID), val, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, err
	}
	return rev, natsError("storing subscription "+sub.ID, err)
}

// DeleteSubscription removes a subscription (a delete marker written at
// the revision read), then cancels its pending deliveries.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	return s.use(ctx, func(ctx context.Context) error {
		if err := s.deleteSub(ctx, id); err != nil {
			return err
		}
		return s.cancelPending(ctx, id)
	})
}

// deleteSub writes the delete marker of a subscription.
func (s *Store) deleteSub(ctx context.Context, id string) error {
	for {
		_, rev, err := s.readSub(ctx, id)
		if err != nil {
			return err
		}
		seq, err := s.publish(ctx, "$KV."+s.cfg.prefix+"_subs."+subKey(id), nil, kvDelete(rev))
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return natsError("deleting subscription "+id, err)
		}
		return s.subs.applied.wait(ctx, seq)
	}
}
