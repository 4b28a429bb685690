package admin

import (
	"encoding/json"
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// previewInput is a transformation to try, and the events (names or
// patterns) of the subscription it is for.
type previewInput struct {
	Transform string   `json:"transform"`
	Events    []string `json:"events"`
}

// previewView is the transformation's result on the newest stored event
// the subscription would get.
type previewView struct {
	Event webhook.Event   `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// previewTransform runs a transformation on the newest stored event of a
// matching type, so that the page shows what a receiver would get before
// the subscription is saved. 404 when no such event is stored yet.
func previewTransform(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	var in previewInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "request body must be {\"transform\": \"…\", \"events\": [\"…\"]}: "+err.Error(), nil)
		return
	}
	if err := payload.Check(payload.Transform, in.Transform); err != nil {
		writeError(w, http.StatusBadRequest, "bad transformation", webhook.FieldErrors{"transform": err.Error()})
		return
	}
	if len(in.Events) == 0 {
		in.Events = []string{"*"}
	}
	var newest *webhook.Event
	for _, pattern := range in.Events {
		if pattern == "*" {
			pattern = ""
		}
		evs, err := app.Store().RecentEvents(r.Context(), 1, pattern)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		if len(evs) == 1 && (newest == nil || evs[0].ID > newest.ID) {
			newest = &evs[0]
		}
	}
	if newest == nil {
		writeError(w, http.StatusNotFound, "no stored event of these types yet: use the app, then try again", nil)
		return
	}
	data, err := payload.Apply(in.Transform, newest)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the transformation fails on "+newest.Name+" "+newest.ID, webhook.FieldErrors{"transform": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, previewView{Event: *newest, Data: data})
}
