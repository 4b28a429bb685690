package webhook

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Subscription is a receiver of events, as stored. The secret is stored in
// full: deliveries need it. The admin API decides what to show.
type Subscription struct {
	ID          string            `json:"id"`
	AppName     string            `json:"app_name"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Description string            `json:"description"`
	IsActive    bool              `json:"is_active"`
	Signature   string            `json:"signature"`
	Secret      string            `json:"secret"`
	Filters     Filters           `json:"filters"`
	RateLimit   string            `json:"rate_limit,omitempty"` // "" follows the app's default
	Headers     map[string]string `json:"headers,omitempty"`
	// Filter is a CEL condition over the envelope (event, data, site,
	// user_id): the subscription gets the events it is true for.
	Filter string `json:"filter,omitempty"`
	// Transform is a CEL expression over the envelope that builds the
	// data the subscription receives (a map literal).
	Transform string `json:"transform,omitempty"`
	// Ordered delivers the events of one resource (their order key) one
	// at a time, in the order they were inferred.
	Ordered bool  `json:"ordered,omitempty"`
	Stats   Stats `json:"stats"`
	// DisabledReason says why delivery paused the subscription; nil when
	// it is active or was paused by an admin.
	DisabledReason *string `json:"disabled_reason"`
	// PreviousSecret stays valid, and is used for dual signatures, until
	// PreviousSecretExpiresAt (a rotation's grace period).
	PreviousSecret          string     `json:"previous_secret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// ManagedBy is "config" for subscriptions declared in Caddy's config,
	// which the API must not change.
	ManagedBy string    `json:"managed_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Auth authenticates deliveries to the receiver; TLS is their client
	// certificate and the CAs they trust (auth.go).
	Auth *Auth      `json:"auth,omitempty"`
	TLS  *ClientTLS `json:"tls,omitempty"`
}

// Filters narrow the events a subscription receives.
type Filters struct {
	// SiteIDs keeps events whose site is one of these; empty keeps all.
	SiteIDs []string `json:"site_ids"`
}

// Stats are kept up to date by delivery.
type Stats struct {
	TotalSent           int64      `json:"total_sent"`
	TotalFailed         int64      `json:"total_failed"`
	LastSentAt          *time.Time `json:"last_sent_at"`
	LastError           *string    `json:"last_error"`
	ConsecutiveFailures int64      `json:"consecutive_failures"`
}

// ManagedByConfig marks subscriptions declared in Caddy's config.
const ManagedByConfig = "config"

// Secrets returns the secrets that sign a delivery at time now: the
// current one, then the previous one while its grace period lasts.
func (s *Subscription) Secrets(now time.Time) []string {
	if s.PreviousSecret != "" && s.PreviousSecretExpiresAt != nil && now.Before(*s.PreviousSecretExpiresAt) {
		return []string{s.Secret, s.PreviousSecret}
	}
	return []string{s.Secret}
}

// Wants reports whether the subscription lists event, by name or by a
// pattern such as "order.*" (or "*" for every event).
func (s *Subscription) Wants(event string) bool {
	for _, e := range s.Events {
		if EventMatches(e, event) {
			return true
		}
	}
	return false
}

// Receives reports whether ev goes to the subscription: it wants the
// event's name and accepts its site, and the event is not a shadow one
// (stored and listed, never delivered).
func (s *Subscription) Receives(ev *Event) bool {
	return !ev.Shadow && s.Wants(ev.Name) && s.AcceptsSite(ev.Site)
}

// AcceptsSite reports whether the site filter lets an event of site
// through; no filter accepts every event.
func (s *Subscription) AcceptsSite(site string) bool {
	if len(s.Filters.SiteIDs) == 0 {
		return true
	}
	for _, id := range s.Filters.SiteIDs {
		if id == site {
			return true
		}
	}
	return false
}

// FieldErrors maps a field name to what is wrong with it.
type FieldErrors map[string]string

// Error lists the fields, sorted, for logs and config errors.
func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + fe[k]
	}
	return strings.Join(parts, "; ")
}

// Checks are the validations Subscription.Validate leaves to other
// packages: the event names the loaded rules emit, the signature schemes
// and their secrets (package signer), the filter and transformation
// (package payload; field is "filter" or "transform").
type Checks struct {
	Known       func(event string) bool
	ValidScheme func(scheme string) bool
	ValidSecret func(scheme, secret string) error
	Expression  func(field, expr string) error
}

// Validate checks every field and returns the problems by field, or nil.
func (s *Subscription) Validate(c Checks) FieldErrors {
	known, validScheme, validSecret := c.Known, c.ValidScheme, c.ValidSecret
	fe := FieldErrors{}
	for field, expr := range map[string]string{"filter": s.Filter, "transform": s.Transform} {
		if expr == "" || c.Expression == nil {
			continue
		}
		if err := c.Expression(field, expr); err != nil {
			fe[field] = err.Error()
		}
	}
	if msg := validateURL(s.URL); msg != "" {
		fe["url"] = msg
	}
	if len(s.Events) == 0 {
		fe["events"] = "at least one event is required"
	}
	for _, e := range s.Events {
		switch {
		case e == TestEvent || e == "*":
		case ValidEventPattern(e):
		case !ValidEventName(e):
			fe["events"] = fmt.Sprintf("%q is neither an event name nor a pattern like order.*", e)
		case !known(e):
			fe["events"] = fmt.Sprintf("%q is not an event the loaded rules can emit (see /webhooks/events)", e)
		}
	}
	if !validScheme(s.Signature) {
		fe["signature"] = fmt.Sprintf("%q is not one of standard, sha256, hex, ed25519", s.Signature)
	} else if err := validSecret(s.Signature, s.Secret); err != nil {
		fe["secret"] = err.Error()
	}
	if s.RateLimit != "" {
		if _, err := ParseRate(s.RateLimit); err != nil {
			fe["rate_limit"] = err.Error()
		}
	}
	if msg := validateHeaders(s.Headers); msg != "" {
		fe["headers"] = msg
	}
	for _, id := range s.Filters.SiteIDs {
		if id == "" {
			fe["filters.site_ids"] = "site ids must not be empty"
		}
	}
	s.validateCredentials(fe)
	if len(s.AppName) > 200 {
		fe["app_name"] = "at most 200 characters"
	}
	if len(s.Description) > 2000 {
		fe["description"] = "at most 2000 characters"
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// EventPlaceholder in a subscription's URL is replaced, in each delivery,
// by the event's name: https://partner.example/hooks/{event}.
const EventPlaceholder = "{event}"

// Target is where a delivery of event goes: the URL with its {event}
// placeholders filled in (event names need no escaping in a URL).
func (s *Subscription) Target(event string) string {
	return strings.ReplaceAll(s.URL, EventPlaceholder, event)
}

// validateURL says what is wrong with a delivery target, or "". The
// {event} placeholder may appear in the path and the query, not in the
// scheme nor the host, so that the SSRF guard and the admins see the host
// every delivery goes to; no other {…} is one.
func validateURL(raw string) string {
	if raw == "" {
		return "required"
	}
	if len(raw) > 2048 {
		return "at most 2048 characters"
	}
	if msg := checkPlaceholders(raw); msg != "" {
		return msg
	}
	u, err := url.Parse(strings.ReplaceAll(raw, EventPlaceholder, "event"))
	switch {
	case err != nil:
		return "not a valid URL: " + err.Error()
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an absolute http:// or https:// URL"
	case u.Host == "" || u.Hostname() == "":
		return "must have a host"
	case !validPort(u.Port()):
		return fmt.Sprintf("port %s is not one of 1 to 65535", u.Port())
	case u.User != nil:
		return "must not contain credentials (use headers for authentication)"
	case u.Fragment != "":
		return "must not have a #fragment"
	}
	return ""
}

// checkPlaceholders says what is wrong with the {…} of a URL template, or "".
func checkPlaceholders(raw string) string {
	rest := strings.ReplaceAll(raw, EventPlaceholder, "")
	if strings.ContainsAny(rest, "{}") {
		return "the only placeholder is {event} (the event's name), e.g. https://partner.example/hooks/{event}"
	}
	i := strings.Index(raw, EventPlaceholder)
	if i < 0 {
		return ""
	}
	_, afterScheme, _ := strings.Cut(raw, "://")
	hostEnd := len(raw) - len(afterScheme) + strings.IndexAny(afterScheme+"/", "/?")
	if i < hostEnd {
		return "{event} may be in the path or the query, not in the host"
	}
	return ""
}

// validPort reports whether a URL's port is absent or 1 to 65535; url.Parse
// checks only that it is made of digits.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= 1
}
