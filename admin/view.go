package admin

import (
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// view is a subscription as the API shows it: the secret in full only in
// the answers to create and rotate-secret, a hint elsewhere.
type view struct {
	ID                      string            `json:"id"`
	AppName                 string            `json:"app_name"`
	URL                     string            `json:"url"`
	Events                  []string          `json:"events"`
	Description             string            `json:"description"`
	IsActive                bool              `json:"is_active"`
	Signature               string            `json:"signature"`
	Secret                  string            `json:"secret,omitempty"`
	SecretHint              string            `json:"secret_hint,omitempty"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at,omitempty"`
	Filters                 webhook.Filters   `json:"filters"`
	RateLimit               string            `json:"rate_limit"`
	Headers                 map[string]string `json:"headers"`
	Filter                  string            `json:"filter"`
	Transform               string            `json:"transform"`
	Stats                   webhook.Stats     `json:"stats"`
	DisabledReason          *string           `json:"disabled_reason"`
	ManagedBy               string            `json:"managed_by,omitempty"`
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
}

// newView shows sub; defaultRate is the app's rate_limit, shown for
// subscriptions that follow it.
func newView(sub *webhook.Subscription, defaultRate string, showSecret bool, now time.Time) view {
	v := view{
		ID: sub.ID, AppName: sub.AppName, URL: sub.URL, Events: sub.Events, Description: sub.Description,
		IsActive: sub.IsActive, Signature: sub.Signature, Filters: sub.Filters, RateLimit: sub.RateLimit,
		Headers: sub.Headers, Filter: sub.Filter, Transform: sub.Transform, Stats: sub.Stats, DisabledReason: sub.DisabledReason, ManagedBy: sub.ManagedBy,
		CreatedAt: sub.CreatedAt, UpdatedAt: sub.UpdatedAt,
	}
	if showSecret {
		v.Secret = sub.Secret
	} else {
		v.SecretHint = signer.Hint(sub.Secret)
	}
	if sub.PreviousSecretExpiresAt != nil && now.Before(*sub.PreviousSecretExpiresAt) {
		v.PreviousSecretExpiresAt = sub.PreviousSecretExpiresAt
	}
	if v.RateLimit == "" {
		v.RateLimit = defaultRate
	}
	if v.Events == nil {
		v.Events = []string{}
	}
	if v.Filters.SiteIDs == nil {
		v.Filters.SiteIDs = []string{}
	}
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	return v
}
