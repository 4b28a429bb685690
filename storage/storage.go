// Package storage is the contract between caddy-webhooks and its storage
// backends. A backend is a Caddy module in the webhooks.storage namespace
// (webhooks.storage.badger is the embedded default) that implements
// Backend; the Store it opens holds the events, deliveries,
// subscriptions and resource state. The package storagetest checks that a
// backend keeps the contract. The handler, the delivery workers and the
// admin routes each use the part they need, through interfaces of their
// own.
package storage

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Backend is a storage module.
type Backend interface {
	// PoolKey names the store in the process: the configs whose backends
	// give the same key share one open Store across reloads.
	PoolKey() string
	// Open opens the store. An error matching webhook.ErrUnavailable
	// means "not now" (a full disk, an unreachable cluster): Caddy starts
	// and serves anyway, and the store is opened again later. onHealth is
	// told when the store stops or resumes taking writes.
	Open(logger *zap.Logger, onHealth func(webhook.Health)) (Store, error)
	// Compatible returns why this config cannot use a store that the
	// backend opened was opened with (settings a reload cannot change), or
	// nil.
	Compatible(opened Backend) error
	// Describe gives the fields that log lines about the store carry.
	Describe() []zap.Field
}

// Store is an open backend. Its methods are safe for concurrent use.
type Store interface {
	// Commit stores events, their deliveries to the subscriptions that
	// want them, and the request's resource snapshots, all or nothing.
	// Records expire after retention (0: never). With webhook.Sync it
	// returns once they are durable; with webhook.Async, errors go to
	// onAsyncErr (which may be nil). The snapshots are readable when it
	// returns, whatever d: the next request on the resource reads them.
	Commit(events []webhook.Event, snaps []webhook.Snapshot, retention time.Duration, d webhook.Durability, onAsyncErr func(error)) error
	// Snapshot returns the state remembered under key, nil when none.
	Snapshot(key string) ([]byte, error)
	// LockKeys holds the keys (requests on one resource take turns) until
	// unlock is called, or fails once ctx is done.
	LockKeys(ctx context.Context, keys []string) (unlock func(), err error)

	Subscription(id string) (*webhook.Subscription, error)
	Subscriptions() ([]*webhook.Subscription, error)
	// ActiveSubscriptions returns the subscriptions that receive events.
	ActiveSubscriptions() []*webhook.Subscription
	PutSubscription(sub *webhook.Subscription) error
	// UpdateSubscription applies fn to the stored subscription and stores
	// the result; fn may run more than once (concurrent updates).
	UpdateSubscription(id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error)
	// DeleteSubscription removes a subscription and cancels its pending
	// deliveries.
	DeleteSubscription(id string, retention time.Duration) error

	// Claim claims, for each want in turn, up to Max due deliveries of its
	// subscription, at most budget in all, each under a lease (due again
	// at now+lease unless updated before), and returns when the earliest
	// delivery not yet due among those looked at will be (zero: none).
	Claim(now time.Time, lease time.Duration, budget int, wants []webhook.Want, retention time.Duration) ([]webhook.Claim, time.Time, error)
	// UpdateDelivery applies fn to a delivery and stores the result; fn
	// may run more than once.
	UpdateDelivery(id string, retention time.Duration, fn func(*webhook.Delivery) error) (*webhook.Delivery, error)
	Delivery(id string) (*webhook.Delivery, error)
	// Deliveries lists a subscription's deliveries, newest first, of
	// one status ("" for any), at most limit.
	Deliveries(subID, status string, limit int) ([]*webhook.Delivery, error)
	// AddDeliveries creates a due-now delivery of each event for sub (a
	// replay).
	AddDeliveries(sub *webhook.Subscription, events []webhook.Event) (int, error)
	// EventsSince calls fn for each stored event inferred at or after
	// since, in time order, until fn returns an error.
	EventsSince(since time.Time, fn func(webhook.Event) error) error
	// Wake receives when deliveries may have become due.
	Wake() <-chan struct{}
	QueueDepth() int64
	Count() (webhook.Counts, error)
	// Health says whether the store takes writes, and why not.
	Health() webhook.Health
	Close() error
}
