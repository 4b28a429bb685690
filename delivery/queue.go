package delivery

import (
	"context"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Queue is what the dispatcher needs of a storage backend: the due work,
// claimed within per-subscription budgets under a lease, the records of
// its attempts, and the subscriptions' stats. How due work is indexed and
// found is the backend's business.
type Queue interface {
	// Claim claims, for each want in turn, up to Max due deliveries of its
	// subscription, at most budget in all, each under a lease (it is due
	// again at now+lease unless recorded before), and returns when the
	// earliest delivery not yet due among those looked at will be (zero:
	// none, or not known).
	Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error)
	// UpdateDelivery applies fn to a delivery and stores the result; fn
	// may run more than once.
	UpdateDelivery(ctx context.Context, id string, fn func(*webhook.Delivery) error) (*webhook.Delivery, error)
	// UpdateSubscription applies fn to a subscription and stores the
	// result; fn may run more than once.
	UpdateSubscription(ctx context.Context, id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error)
	// ActiveSubscriptions returns the subscriptions that receive events.
	ActiveSubscriptions() []*webhook.Subscription
	// Wake receives when deliveries may have become due.
	Wake() <-chan struct{}
	// QueueDepth counts the pending deliveries.
	QueueDepth() int64
	// Health says whether the backend takes writes (claims are writes).
	Health() webhook.Health
}
