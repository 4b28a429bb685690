package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/jsonbody"
	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// maxGracePeriod bounds how long a rotated-out secret stays valid.
const maxGracePeriod = 30 * 24 * time.Hour

func listSubscriptions(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	var onlyActive *bool
	switch v := r.URL.Query().Get("is_active"); v {
	case "":
	case "true", "false":
		b := v == "true"
		onlyActive = &b
	default:
		writeError(w, http.StatusBadRequest, "bad query", webhook.FieldErrors{"is_active": "must be true or false"})
		return
	}
	subs, err := app.Store().Subscriptions(r.Context())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	now := time.Now()
	out := []view{}
	for _, sub := range subs {
		if onlyActive == nil || sub.IsActive == *onlyActive {
			out = append(out, newView(sub, app.DefaultRateLimit(), false, now))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func createSubscription(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	in, fe, err := decodeInput(r)
	if !checkInput(w, fe, err) {
		return
	}
	now := time.Now().UTC()
	sub := &webhook.Subscription{
		ID:        webhook.NewID("sub_", now),
		IsActive:  true,
		Signature: signer.Standard,
		CreatedAt: now,
		UpdatedAt: now,
	}
	in.apply(sub)
	if fe := keyPairSecret(in, sub); fe != nil {
		writeError(w, http.StatusBadRequest, "invalid subscription", fe)
		return
	}
	if sub.Secret == "" {
		if sub.Secret, err = newSecret(sub.Signature); err != nil {
			writeStoreError(w, err)
			return
		}
	}
	if sub.AppName == "" {
		if u, err := url.Parse(sub.Target("event")); err == nil {
			sub.AppName = u.Hostname()
		}
	}
	if fe := validate(sub, app); fe != nil {
		writeError(w, http.StatusBadRequest, "invalid subscription", fe)
		return
	}
	if err := app.Store().PutSubscription(r.Context(), sub); err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, newView(sub, app.DefaultRateLimit(), true, now))
}

func getSubscription(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	sub, err := app.Store().Subscription(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newView(sub, app.DefaultRateLimit(), false, time.Now()))
}

func updateSubscription(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	in, fe, err := decodeInput(r)
	if !checkInput(w, fe, err) {
		return
	}
	now := time.Now().UTC()
	generated := false
	sub, err := app.Store().UpdateSubscription(r.Context(), r.PathValue("id"), func(sub *webhook.Subscription) error {
		if err := refuseConfig(sub); err != nil {
			return err
		}
		wasKeyPair := signer.IsKeyPair(sub.Signature)
		in.apply(sub)
		if fe := keyPairSecret(in, sub); fe != nil {
			return fe
		}
		// A switch between a shared secret and a key pair needs the other
		// kind: generated, and shown once as on a create.
		if in.Secret == nil && signer.IsKeyPair(sub.Signature) != wasKeyPair {
			secret, err := newSecret(sub.Signature)
			if err != nil {
				return err
			}
			sub.Secret, sub.PreviousSecret, sub.PreviousSecretExpiresAt, generated = secret, "", nil, true
		}
		sub.UpdatedAt = now
		if fe := validate(sub, app); fe != nil {
			return fe
		}
		return nil
	})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newView(sub, app.DefaultRateLimit(), generated, now))
}

func deleteSubscription(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	id := r.PathValue("id")
	sub, err := app.Store().Subscription(r.Context(), id)
	if err == nil {
		err = refuseConfig(sub)
	}
	if err == nil {
		err = app.Store().DeleteSubscription(r.Context(), id)
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func rotateSecret(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	raw, err := readObject(r)
	if !checkInput(w, nil, err) {
		return
	}
	var grace time.Duration
	for name, val := range raw {
		if name != "grace_period" {
			writeError(w, http.StatusBadRequest, "invalid request", webhook.FieldErrors{name: "unknown field"})
			return
		}
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			writeError(w, http.StatusBadRequest, "invalid request", webhook.FieldErrors{"grace_period": `must be a duration string like "24h"`})
			return
		}
		if grace, err = time.ParseDuration(s); err != nil || grace < 0 || grace > maxGracePeriod {
			writeError(w, http.StatusBadRequest, "invalid request", webhook.FieldErrors{"grace_period": fmt.Sprintf("must be a duration from 0s to %s, like \"24h\"", maxGracePeriod)})
			return
		}
	}
	now := time.Now().UTC()
	sub, err := app.Store().UpdateSubscription(r.Context(), r.PathValue("id"), func(sub *webhook.Subscription) error {
		if err := refuseConfig(sub); err != nil {
			return err
		}
		secret, err := newSecret(sub.Signature)
		if err != nil {
			return err
		}
		sub.PreviousSecret, sub.PreviousSecretExpiresAt = "", nil
		if grace > 0 {
			expires := now.Add(grace)
			sub.PreviousSecret, sub.PreviousSecretExpiresAt = sub.Secret, &expires
		}
		sub.Secret = secret
		sub.UpdatedAt = now
		return nil
	})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newView(sub, app.DefaultRateLimit(), true, now))
}

// validate checks sub against the running config's event catalogue.
func validate(sub *webhook.Subscription, app webhooksApp) webhook.FieldErrors {
	known := map[string]bool{}
	for _, ev := range app.Events() {
		known[ev.Name] = true
	}
	return sub.Validate(webhook.Checks{
		Known:       func(name string) bool { return known[name] },
		ValidScheme: signer.ValidScheme, ValidSecret: signer.ValidateSecret,
		Expression: payload.CheckField,
	})
}

// newSecret makes the secret of a scheme: a private key for a key pair
// (ed25519), a shared secret for the others.
func newSecret(scheme string) (string, error) {
	if signer.IsKeyPair(scheme) {
		return signer.GenerateKey()
	}
	return signer.GenerateSecret()
}

// keyPairSecret refuses a secret given for a key-pair scheme: its private
// key is generated and never leaves the store.
func keyPairSecret(in *input, sub *webhook.Subscription) webhook.FieldErrors {
	if in.Secret != nil && *in.Secret != "" && signer.IsKeyPair(sub.Signature) {
		return webhook.FieldErrors{"secret": "an ed25519 subscription gets a generated key pair: leave secret out; the receiver verifies with public_key"} //nolint:gosec // G101: a message, not a credential
	}
	return nil
}

// configManagedError refuses changes to subscriptions declared in config.
type configManagedError struct{ id string }

func (e configManagedError) Error() string {
	return fmt.Sprintf("subscription %s is declared in Caddy's config (a `subscription` block of the webhooks global option): change it there and reload", e.id)
}

func refuseConfig(sub *webhook.Subscription) error {
	if sub.ManagedBy == webhook.ManagedByConfig {
		return configManagedError{sub.ID}
	}
	return nil
}

// checkInput answers a body that could not be read or had bad fields; it
// reports whether the handler may go on.
func checkInput(w http.ResponseWriter, fe webhook.FieldErrors, err error) bool {
	var be *jsonbody.Error
	switch {
	case errors.As(err, &be) && be.Field != "":
		writeError(w, http.StatusBadRequest, be.Error(), webhook.FieldErrors{be.Field: be.FieldMsg})
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return false
	case fe != nil:
		writeError(w, http.StatusBadRequest, "invalid request", fe)
		return false
	}
	return true
}

// writeStoreError maps store and validation errors to status codes.
func writeStoreError(w http.ResponseWriter, err error) {
	var fe webhook.FieldErrors
	var cm configManagedError
	var conflict conflictError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid subscription", fe)
	case errors.As(err, &cm):
		writeError(w, http.StatusConflict, cm.Error(), nil)
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, conflict.Error(), nil)
	case errors.Is(err, webhook.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	default:
		writeInternal(w, err)
	}
}
