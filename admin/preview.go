package admin

import (
	"encoding/json"
	"fmt"
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
	in, fe, err := decodePreview(r)
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	case fe != nil:
		writeError(w, http.StatusBadRequest, "bad preview request", fe)
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

// decodePreview reads the request body as decodeInput does a
// subscription's: an object, each field checked, unknown fields refused.
func decodePreview(r *http.Request) (previewInput, webhook.FieldErrors, error) {
	var in previewInput
	raw, err := readObject(r)
	if err != nil {
		return in, nil, err
	}
	fe := webhook.FieldErrors{}
	for name, val := range raw {
		switch name {
		case "transform":
			if json.Unmarshal(val, &in.Transform) != nil {
				fe[name] = "must be a string: a CEL map such as {\"order\": data.orderId}"
			}
		case "events":
			if json.Unmarshal(val, &in.Events) != nil {
				fe[name] = "must be an array of event names or patterns"
				continue
			}
			for _, e := range in.Events {
				if !webhook.ValidEventSelector(e) {
					fe[name] = fmt.Sprintf("%q is neither an event name nor a pattern like order.*", e)
				}
			}
		default:
			fe[name] = "unknown field"
		}
	}
	if len(fe) > 0 {
		return in, fe, nil
	}
	return in, nil, nil
}
