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

// Settings are what a config sets on the store it uses. The store is
// shared across reloads: each config that adopts it configures it, and the
// last one's settings hold.
type Settings struct {
	// Retention is how long events, finished deliveries and snapshots are
	// kept (0: forever).
	Retention time.Duration
	// Durability says when Commit returns: once its events are durable
	// (webhook.Sync) or at once (webhook.Async).
	Durability webhook.Durability
	// NotStored, if set, is told of the events of an asynchronous commit
	// that failed after Commit returned, so that they can be logged whole.
	NotStored func(events []webhook.Event, err error)
}

// Store is an open backend. Its methods are safe for concurrent use. The
// methods that may block take a context: a backend gives up when it is
// done, with an error wrapping ctx.Err(), and a write it gives up on may
// or may not have been made.
type Store interface {
	// Configure sets the config's settings; see Settings.
	Configure(Settings)

	// Commit stores events, their deliveries to the subscriptions that
	// want them, and the request's resource snapshots, all or nothing.
	// With webhook.Sync it returns once they are durable; with
	// webhook.Async, later failures go to Settings.NotStored. The
	// snapshots are readable when it returns, whatever the durability:
	// the next request on the resource reads them.
	Commit(ctx context.Context, events []webhook.Event, snaps []webhook.Snapshot) error
	// Snapshot returns the state remembered under key, nil when none.
	Snapshot(ctx context.Context, key string) ([]byte, error)
	// LockKeys holds the keys (requests on one resource take turns) until
	// unlock is called, or fails once ctx is done.
	LockKeys(ctx context.Context, keys []string) (unlock func(), err error)

	Subscription(ctx context.Context, id string) (*webhook.Subscription, error)
	// Subscriptions returns every subscription, oldest first.
	Subscriptions(ctx context.Context) ([]*webhook.Subscription, error)
	// ActiveSubscriptions returns the subscriptions that receive events,
	// from memory: it follows every change, made through this store or,
	// for a shared backend, elsewhere, and never blocks.
	ActiveSubscriptions() []*webhook.Subscription
	PutSubscription(ctx context.Context, sub *webhook.Subscription) error
	// UpdateSubscription applies fn to the stored subscription and stores
	// the result; fn may run more than once (concurrent updates).
	UpdateSubscription(ctx context.Context, id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error)
	// DeleteSubscription removes a subscription and cancels its pending
	// deliveries.
	DeleteSubscription(ctx context.Context, id string) error

	// Claim claims, for each want in turn, up to Max due deliveries of its
	// subscription, at most budget in all, each under a lease (due again
	// at now+lease unless updated before), and returns when the earliest
	// delivery not yet due among those looked at will be (zero: none).
	Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error)
	// UpdateDelivery applies fn to a delivery and stores the result; fn
	// may run more than once.
	UpdateDelivery(ctx context.Context, id string, fn func(*webhook.Delivery) error) (*webhook.Delivery, error)
	Delivery(ctx context.Context, id string) (*webhook.Delivery, error)
	// Deliveries lists a subscription's deliveries, newest first, of
	// one status ("" for any), at most limit.
	Deliveries(ctx context.Context, subID, status string, limit int) ([]*webhook.Delivery, error)
	// AddDeliveries creates a due-now delivery of each event for sub (a
	// replay).
	AddDeliveries(ctx context.Context, sub *webhook.Subscription, events []webhook.Event) (int, error)
	// EventsSince calls fn for each stored event inferred at or after
	// since, in time order, until fn returns an error.
	EventsSince(ctx context.Context, since time.Time, fn func(webhook.Event) error) error
	// RecentEvents returns up to limit of the newest events, newest
	// first, whose name matches pattern ("" for all; a name or a pattern
	// such as order.*), looking only at the newest few thousand.
	RecentEvents(ctx context.Context, limit int, pattern string) ([]webhook.Event, error)
	// Wake receives when deliveries may have become due.
	Wake() <-chan struct{}
	// QueueDepth is the number of pending deliveries, exact or as last
	// known: it is read often (a metric) and must be cheap.
	QueueDepth() int64
	Count(ctx context.Context) (webhook.Counts, error)
	// Health says whether the store takes writes, and why not.
	Health() webhook.Health
	Close() error
}

// HandOff is an optional interface of a Store: its commits can lease the
// deliveries they create to this process's dispatcher and hand them over
// in memory, so that they are sent without being claimed. A delivery that
// would be created due now is created leased instead (due again when the
// lease runs out, as a claimed one) when the Taker has room for it, and
// given to Take once its commit is durable as Settings.Durability says. If
// the process dies before it is sent, the lease runs out and it is claimed
// as any other: at least once holds.
type HandOff interface {
	// SetTaker sets who takes the deliveries of the commits that follow
	// (nil: nobody, every delivery is created due now).
	SetTaker(Taker)
}

// Taker takes the deliveries a store's commits lease to it (HandOff).
type Taker interface {
	// Room says whether a delivery to sub would be taken now, besides
	// the held ones the same commit already leased to it, and the lease
	// to give it. It is asked during the commit: it must be quick.
	Room(sub *webhook.Subscription, held int) (lease time.Duration, ok bool)
	// Take receives deliveries leased after Room said yes, once their
	// commit is durable (or has failed to sync: they are stored, and sent
	// as those of any commit would be). It must not block: it runs on the
	// committing request.
	Take(claims []webhook.Claim)
}
