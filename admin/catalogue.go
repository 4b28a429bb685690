package admin

import (
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// listEvents answers the events that the loaded rules can emit.
func listEvents(w http.ResponseWriter, r *http.Request, app *caddymodule.App) {
	events := app.Events()
	if events == nil {
		events = []rules.EventInfo{}
	}
	writeJSON(w, http.StatusOK, events)
}

// stats answers the store's counts.
func stats(w http.ResponseWriter, r *http.Request, app *caddymodule.App) {
	c, err := app.Store().Count()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
