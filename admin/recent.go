package admin

import (
	"net/http"
	"strconv"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Bounds of the recent events listing.
const (
	defaultRecent = 50
	maxRecent     = 500
)

// listRecentEvents answers the newest stored events, newest first, shadow
// ones marked: ?limit= (1 to 500, default 50), ?event= (a name or a
// pattern such as order.*).
func listRecentEvents(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	q := r.URL.Query()
	limit := defaultRecent
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRecent {
			writeError(w, http.StatusBadRequest, "bad query", webhook.FieldErrors{"limit": "must be a number from 1 to 500"})
			return
		}
		limit = n
	}
	pattern := q.Get("event")
	if pattern != "" && !webhook.ValidEventSelector(pattern) {
		writeError(w, http.StatusBadRequest, "bad query", webhook.FieldErrors{"event": "must be an event name or a pattern such as order.* or *"})
		return
	}
	if pattern == "*" {
		pattern = ""
	}
	list, err := app.Store().RecentEvents(r.Context(), limit, pattern)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []webhook.Event{}
	}
	writeJSON(w, http.StatusOK, list)
}
