package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/internal/jsonbody"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// input holds the writable fields of a subscription that a request gave;
// nil means not given, so PUT and PATCH change only what they name.
type input struct {
	AppName     *string
	URL         *string
	Events      *[]string
	Description *string
	IsActive    *bool
	Signature   *string
	Secret      *string
	Filters     *webhook.Filters
	RateLimit   *string
	Headers     *map[string]string
	Filter      *string
	Transform   *string
	Ordered     *bool
	Auth, TLS   *credentialsInput // auth.go
}

// readOnly are fields of a subscription's JSON that requests cannot set.
var readOnly = map[string]bool{
	"id": true, "secret_hint": true, "stats": true, "disabled_reason": true, "managed_by": true,
	"created_at": true, "updated_at": true, "previous_secret_expires_at": true,
}

// errBadBody is a request body that is not a JSON object.
var errBadBody = errors.New("request body must be a JSON object")

// decodeInput reads the request body field by field, so that each bad
// field gets its own message.
func decodeInput(r *http.Request) (*input, webhook.FieldErrors, error) {
	raw, err := readObject(r)
	if err != nil {
		return nil, nil, err
	}
	in := new(input)
	fe := webhook.FieldErrors{}
	for name, val := range raw {
		if string(val) == "null" {
			// null clears an optional field; a required one cannot be null.
			switch name {
			case "url", "events", "signature", "is_active":
				fe[name] = "must not be null"
				continue
			case "filters":
				val = []byte("{}")
			case "headers":
				val = []byte("{}")
			case "ordered":
				val = []byte("false")
			case "auth", "tls": // null removes them
			default:
				val = []byte(`""`)
			}
		}
		var target any
		var want string
		switch name {
		case "app_name":
			in.AppName, target, want = new(string), &in.AppName, "a string"
		case "url":
			in.URL, target, want = new(string), &in.URL, "a string"
		case "events":
			in.Events, target, want = new([]string), &in.Events, "an array of strings"
		case "description":
			in.Description, target, want = new(string), &in.Description, "a string"
		case "is_active":
			in.IsActive, target, want = new(bool), &in.IsActive, "true or false"
		case "signature":
			in.Signature, target, want = new(string), &in.Signature, "a string"
		case "secret":
			in.Secret, target, want = new(string), &in.Secret, "a string"
		case "rate_limit":
			in.RateLimit, target, want = new(string), &in.RateLimit, "a string like 100/m"
		case "headers":
			in.Headers, target, want = new(map[string]string), &in.Headers, "an object of strings"
		case "filter":
			in.Filter, target, want = new(string), &in.Filter, `a CEL condition such as "data.total > 100", or ""`
		case "transform":
			in.Transform, target, want = new(string), &in.Transform, `a CEL map such as {"order": data.orderId}, or ""`
		case "ordered":
			in.Ordered, target, want = new(bool), &in.Ordered, "true or false"
		case "auth":
			in.Auth = decodeCredentials(name, val, fe)
			continue
		case "tls":
			in.TLS = decodeCredentials(name, val, fe)
			continue
		case "filters":
			in.Filters = new(webhook.Filters)
			if err := decodeFilters(val, in.Filters); err != nil {
				fe["filters"] = `must be {"site_ids": [strings]}: ` + err.Error()
			}
			continue
		default:
			if readOnly[name] {
				fe[name] = "read-only"
			} else {
				fe[name] = "unknown field"
			}
			continue
		}
		if err := json.Unmarshal(val, target); err != nil {
			fe[name] = "must be " + want
		}
	}
	if len(fe) > 0 {
		return nil, fe, nil
	}
	return in, nil, nil
}

// decodeFilters decodes filters with exact key names: decoding into the
// struct would take "SITE_IDS" for site_ids, and the last of two spellings.
func decodeFilters(val json.RawMessage, f *webhook.Filters) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(val, &raw); err != nil {
		return err
	}
	for key, v := range raw {
		if key != "site_ids" {
			return fmt.Errorf("unknown key %q", key)
		}
		if err := json.Unmarshal(v, &f.SiteIDs); err != nil {
			return err
		}
	}
	return nil
}

// readObject reads a JSON object body; an empty body is an empty object.
// Duplicate keys and deep nesting are refused first (jsonbody.Check).
func readObject(r *http.Request) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("request body larger than %d bytes", tooBig.Limit)
		}
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	if err := jsonbody.Check(body); errors.Is(err, jsonbody.ErrSyntax) {
		return nil, errBadBody
	} else if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errBadBody
	}
	return raw, nil
}

// apply copies the given fields onto sub.
func (in *input) apply(sub *webhook.Subscription) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&sub.AppName, in.AppName)
	set(&sub.URL, in.URL)
	set(&sub.Description, in.Description)
	set(&sub.Signature, in.Signature)
	set(&sub.RateLimit, in.RateLimit)
	set(&sub.Filter, in.Filter)
	set(&sub.Transform, in.Transform)
	if in.Secret != nil {
		sub.Secret = *in.Secret // secrets are taken as given, spaces included
	}
	if in.Events != nil {
		sub.Events = dedupe(*in.Events)
	}
	if in.Ordered != nil {
		sub.Ordered = *in.Ordered
	}
	if in.Filters != nil {
		sub.Filters = *in.Filters
	}
	if in.Headers != nil {
		sub.Headers = *in.Headers
	}
	if in.Auth != nil {
		in.Auth.applyAuth(sub)
	}
	if in.TLS != nil {
		in.TLS.applyTLS(sub)
	}
	if in.IsActive != nil {
		if *in.IsActive && !sub.IsActive {
			// Resuming a paused subscription starts its failure count afresh.
			sub.DisabledReason = nil
			sub.Stats.ConsecutiveFailures = 0
		}
		sub.IsActive = *in.IsActive
	}
}

func dedupe(list []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
