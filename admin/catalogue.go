package admin

import (
	"errors"
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// listEvents answers the events that the loaded rules can emit.
func listEvents(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	events := app.Events()
	if events == nil {
		events = []rules.EventInfo{}
	}
	writeJSON(w, http.StatusOK, events)
}

// statsView is the store's counts and whether it takes writes.
type statsView struct {
	webhook.Counts
	Store webhook.Health `json:"store"`
}

// stats answers the store's counts and health. It answers while the store
// is not open (a disk short of space at start) or cannot count (a cluster
// out of reach), with the health only: that is when it matters.
func stats(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	v := statsView{Store: app.Health()}
	if store := app.Store(); store != nil {
		c, err := store.Count(r.Context())
		switch {
		case errors.Is(err, webhook.ErrUnavailable):
			v.Store = app.Health() // as it is now that the store said so
		case err != nil:
			writeStoreError(w, err)
			return
		default:
			v.Counts = c
		}
	}
	writeJSON(w, http.StatusOK, v)
}
