package admin

import (
	"context"

	"github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/delivery"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// webhooksApp is what the routes need of the webhooks app of the config
// Caddy serves: its store, the events its rules emit, test deliveries and
// the default rate limit.
type webhooksApp interface {
	// Store is the open store, or nil (not open yet: a full disk).
	Store() storage.Store
	// Health says whether the store takes writes, and why not.
	Health() webhook.Health
	// Events are the events the loaded rules can emit.
	Events() []rules.EventInfo
	// SendTest sends a webhook.test event to sub at once.
	SendTest(ctx context.Context, sub *webhook.Subscription) delivery.TestResult
	// DefaultRateLimit is the rate limit of subscriptions that set none.
	DefaultRateLimit() string
	// Learner is learn mode's model, nil when no handler learns.
	Learner() *caddymodule.Learner
}
