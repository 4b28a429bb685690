package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// apiError is the body of every error answer: a message, and what is wrong
// with each field when the request body was at fault.
type apiError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // answers may carry secrets
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, fields webhook.FieldErrors) {
	writeJSON(w, status, apiError{Error: msg, Fields: fields})
}

// appHandler is a route handler that needs the running webhooks app.
type appHandler func(w http.ResponseWriter, r *http.Request, app webhooksApp)

// withApp finds the webhooks app of the config Caddy is serving and its
// store, or answers 503: the admin endpoint runs even when the loaded
// config has no webhooks app, and a store on a full disk may not be open.
func withApp(h appHandler) http.HandlerFunc {
	return withRunningApp(func(w http.ResponseWriter, r *http.Request, app webhooksApp) {
		if app.Store() == nil {
			writeError(w, http.StatusServiceUnavailable, "the webhooks store is unavailable: "+app.Health().Reason, nil)
			return
		}
		h(w, r, app)
	})
}

// withRunningApp is withApp for routes that answer without the store.
func withRunningApp(h appHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Caddy builds admin routes once, apart from any config's apps:
		// the routes ask its active context for the app of the config being
		// served, rather than remember the last one started, because a
		// reload that fails after its webhooks app started leaves the
		// older config serving.
		app := caddymodule.Active()
		if app == nil {
			writeError(w, http.StatusServiceUnavailable, "no webhooks app is running: load a config that uses the webhooks handler or global option", nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r, app)
	}
}

// writeInternal answers a store's error: 503 while the store takes no
// writes (its disk is short of space), else 500.
func writeInternal(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, webhook.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, err.Error(), nil)
}
