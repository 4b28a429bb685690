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
	PublicKey               string            `json:"public_key,omitempty"`
	PreviousPublicKey       string            `json:"previous_public_key,omitempty"`
	SecretHint              string            `json:"secret_hint,omitempty"`
	PreviousSecretExpiresAt *time.Time        `json:"previous_secret_expires_at,omitempty"`
	Filters                 webhook.Filters   `json:"filters"`
	RateLimit               string            `json:"rate_limit"`
	Headers                 map[string]string `json:"headers"`
	Filter                  string            `json:"filter"`
	Transform               string            `json:"transform"`
	Ordered                 bool              `json:"ordered"`
	Auth                    *authView         `json:"auth"`
	TLS                     *tlsView          `json:"tls"`
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
		Headers: sub.Headers, Filter: sub.Filter, Transform: sub.Transform, Ordered: sub.Ordered, Stats: sub.Stats, DisabledReason: sub.DisabledReason, ManagedBy: sub.ManagedBy,
		CreatedAt: sub.CreatedAt, UpdatedAt: sub.UpdatedAt,
	}
	v.Auth, v.TLS = newAuthView(sub.Auth), newTLSView(sub.TLS) // auth.go: secrets as set or not
	inGrace := sub.PreviousSecretExpiresAt != nil && now.Before(*sub.PreviousSecretExpiresAt)
	switch {
	case signer.IsKeyPair(sub.Signature):
		// The private key never leaves the store: the receiver needs only
		// the public one, shown every time.
		v.PublicKey, _ = signer.PublicKey(sub.Secret)
		if inGrace {
			v.PreviousPublicKey, _ = signer.PublicKey(sub.PreviousSecret)
		}
	case showSecret:
		v.Secret = sub.Secret
	default:
		v.SecretHint = signer.Hint(sub.Secret)
	}
	if inGrace {
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
