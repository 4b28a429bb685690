package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// SubscriptionConfig is a subscription declared in Caddy's config, for ops
// who keep everything in a Caddyfile. It is created or updated when the
// config starts, and the admin API refuses to change or delete it.
type SubscriptionConfig struct {
	// URL receives the deliveries.
	URL string `json:"url"`
	// Events are event names or patterns such as order.*.
	Events []string `json:"events"`
	// Secret signs the deliveries; use a placeholder such as {env.X}.
	Secret string `json:"secret"`
	// Signature is the scheme: standard (default), sha256 or hex.
	Signature string `json:"signature,omitempty"`
	// Description is a note for admins.
	Description string `json:"description,omitempty"`
	// SiteIDs keeps only events of these sites (filters.site_ids).
	SiteIDs []string `json:"site_ids,omitempty"`
	// RateLimit overrides the app's rate_limit, like 10/m.
	RateLimit string `json:"rate_limit,omitempty"`
	// Headers are added to every delivery.
	Headers map[string]string `json:"headers,omitempty"`
	// Filter is a CEL condition over the envelope: only the events it is
	// true for are delivered.
	Filter string `json:"filter,omitempty"`
	// Transform is a CEL expression building the delivered data.
	Transform string `json:"transform,omitempty"`
	// Ordered delivers the events of one resource one at a time, in the
	// order they were inferred.
	Ordered bool `json:"ordered,omitempty"`
	// Auth authenticates deliveries (subscription_auth.go); its secrets
	// are best given as placeholders such as {env.X}.
	Auth *webhook.Auth `json:"auth,omitempty"`
	// TLS names the PEM files of the client certificate and the CAs.
	TLS *TLSFiles `json:"tls,omitempty"`

	tlsPEM *webhook.ClientTLS // TLS's files, read by loadTLS
}

// subscriptionNameRE is the form of a config subscription's name, which
// becomes its id (sub_<name>).
var subscriptionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// provisionSubscriptions applies placeholders and defaults.
func (a *App) provisionSubscriptions(repl *caddy.Replacer) {
	for _, sc := range a.Subscriptions {
		sc.URL = repl.ReplaceKnown(sc.URL, "")
		sc.Secret = repl.ReplaceKnown(sc.Secret, "")
		for k, v := range sc.Headers {
			sc.Headers[k] = repl.ReplaceKnown(v, "")
		}
		if sc.Signature == "" {
			sc.Signature = signer.Standard
		}
		sc.provisionCredentials(repl)
	}
}

// subscription is the stored form of a config subscription (stats and
// timestamps aside).
func (sc *SubscriptionConfig) subscription(name string) *webhook.Subscription {
	return &webhook.Subscription{
		ID: "sub_" + name, AppName: name, URL: sc.URL, Events: sc.Events, Description: sc.Description,
		IsActive: true, Signature: sc.Signature, Secret: sc.Secret,
		Filters:   webhook.Filters{SiteIDs: sc.SiteIDs},
		RateLimit: sc.RateLimit, Headers: sc.Headers, Filter: sc.Filter, Transform: sc.Transform,
		Ordered: sc.Ordered, ManagedBy: webhook.ManagedByConfig,
		Auth: sc.Auth, TLS: sc.tlsPEM,
	}
}

// validateSubscriptions checks what can be checked without the rules;
// known is nil then, and event names are checked at start.
func (a *App) validateSubscriptions(known func(string) bool) error {
	var errs []error
	for name, sc := range a.Subscriptions {
		if !subscriptionNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("webhooks: subscription %q: the name must be 1 to 64 letters, digits, _ or -", name))
			continue
		}
		if sc.Secret == "" {
			errs = append(errs, fmt.Errorf("webhooks: subscription %s: secret is required (e.g. secret {env.%s_WEBHOOK_SECRET}); the API never shows a config subscription's secret", name, name))
			continue
		}
		if err := sc.loadTLS(); err != nil {
			errs = append(errs, fmt.Errorf("webhooks: subscription %s: %w", name, err))
			continue
		}
		k := known
		if k == nil {
			k = func(string) bool { return true }
		}
		checks := webhook.Checks{Known: k, ValidScheme: signer.ValidScheme, ValidSecret: signer.ValidateSecret, Expression: payload.CheckField}
		if fe := sc.subscription(name).Validate(checks); fe != nil {
			errs = append(errs, fmt.Errorf("webhooks: subscription %s: %w", name, fe))
		}
	}
	return errors.Join(errs...)
}

// syncRetryFirst and syncRetryMost bound the wait between tries of
// syncLater: a NATS cluster elects its leaders in seconds, a full disk
// takes longer to clear.
const (
	syncRetryFirst = time.Second
	syncRetryMost  = 30 * time.Second
)

// subsSync orders the syncs of config subscriptions across configs, so
// that a late sync of an old config (syncLater) cannot land after a newer
// config's: of is the start time of the config last synced.
var subsSync struct {
	sync.Mutex
	of time.Time
}

// syncRecorded syncs the config's subscriptions and records it in
// subsSync, whose lock the caller holds.
func (a *App) syncRecorded(ctx context.Context, store storage.Store) error {
	if err := a.syncSubscriptions(ctx, store); err != nil {
		return err
	}
	subsSync.of = a.startedAt
	return nil
}

// syncLater syncs the config's subscriptions once the store takes writes:
// a store out of reach when the config started (a NATS cluster still
// electing its leaders, a full disk) would otherwise leave them as they
// were until the next reload, and events would go to no subscriber or to
// old settings. It tries again, waiting longer each time, and gives up
// once the config is unloaded or replaced (the replacing one syncs its
// own), or on an error other than the store's being unavailable.
func (a *App) syncLater(store storage.Store, wait time.Duration) {
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, syncRetryMost)
		done, err := a.syncIfActive(store)
		switch {
		case done && err == nil:
			a.logger.Info("config subscriptions synced, now that the store takes writes")
			return
		case !done:
			return
		case !errors.Is(err, webhook.ErrUnavailable):
			a.logger.Error("config subscriptions not synced", zap.Error(err))
			return
		}
	}
}

// syncIfActive syncs the config's subscriptions unless a newer config
// synced its own or runs (a config that has not finished starting counts
// as running: Caddy makes it the running one once all its apps started);
// done is false when it did not.
func (a *App) syncIfActive(store storage.Store) (done bool, err error) {
	subsSync.Lock()
	defer subsSync.Unlock()
	if active := Active(); subsSync.of.After(a.startedAt) || active != nil && active.startedAt.After(a.startedAt) {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, syncTimeout)
	defer cancel()
	return true, a.syncRecorded(ctx, store)
}

// syncSubscriptions makes the store's config subscriptions those of this
// config: new ones are created, changed ones updated (keeping their stats,
// and active again), and ones no longer declared deleted.
func (a *App) syncSubscriptions(ctx context.Context, store storage.Store) error {
	known := map[string]bool{}
	for _, ev := range a.Events() {
		known[ev.Name] = true
	}
	if err := a.validateSubscriptions(func(n string) bool { return known[n] }); err != nil {
		return err
	}
	now := time.Now().UTC()
	for name, sc := range a.Subscriptions {
		want := sc.subscription(name)
		old, err := store.Subscription(ctx, want.ID)
		switch {
		case errors.Is(err, webhook.ErrNotFound):
			want.CreatedAt, want.UpdatedAt = now, now
		case err != nil:
			return fmt.Errorf("webhooks: subscription %s: %w", name, err)
		default:
			want.Stats, want.CreatedAt, want.UpdatedAt = old.Stats, old.CreatedAt, old.UpdatedAt
			if !sameConfig(old, want) {
				want.UpdatedAt = now
			}
		}
		if err := store.PutSubscription(ctx, want); err != nil {
			return fmt.Errorf("webhooks: subscription %s: %w", name, err)
		}
	}
	subs, err := store.Subscriptions(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: listing subscriptions: %w", err)
	}
	for _, sub := range subs {
		if sub.ManagedBy == webhook.ManagedByConfig && a.Subscriptions[sub.AppName] == nil {
			if err := store.DeleteSubscription(ctx, sub.ID); err != nil {
				return fmt.Errorf("webhooks: removing subscription %s no longer in the config: %w", sub.ID, err)
			}
		}
	}
	return nil
}

// sameConfig reports whether the configured fields are unchanged.
func sameConfig(a, b *webhook.Subscription) bool {
	return fmt.Sprint(a.URL, a.Events, a.Description, a.IsActive, a.Signature, a.Secret, a.Filters, a.RateLimit, a.Headers, a.Filter, a.Transform, a.Ordered, a.Auth, a.TLS) ==
		fmt.Sprint(b.URL, b.Events, b.Description, b.IsActive, b.Signature, b.Secret, b.Filters, b.RateLimit, b.Headers, b.Filter, b.Transform, b.Ordered, b.Auth, b.TLS)
}
