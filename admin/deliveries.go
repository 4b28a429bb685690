package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/payload"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// maxListed bounds the delivery history answered at once.
const maxListed = 500

// testSubscription sends a webhook.test event to the subscription now.
func testSubscription(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	sub, err := app.Store().Subscription(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, app.SendTest(r.Context(), sub))
}

// listDeliveries answers a subscription's recent deliveries with their
// attempts, newest first.
func listDeliveries(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	id := r.PathValue("id")
	if _, err := app.Store().Subscription(r.Context(), id); err != nil {
		writeStoreError(w, err)
		return
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", webhook.Pending, webhook.Succeeded, webhook.Failed, webhook.Cancelled:
	default:
		writeError(w, http.StatusBadRequest, "bad query", webhook.FieldErrors{"status": "must be pending, succeeded, failed or cancelled"})
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListed {
			writeError(w, http.StatusBadRequest, "bad query", webhook.FieldErrors{"limit": "must be a number from 1 to 500"})
			return
		}
		limit = n
	}
	list, err := app.Store().Deliveries(r.Context(), id, status, limit)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []*webhook.Delivery{}
	}
	writeJSON(w, http.StatusOK, list)
}

// redeliver makes a finished delivery pending again, due now, with a fresh
// retry schedule; its attempts keep counting up.
func redeliver(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	if !emptyBody(w, r) {
		return
	}
	store := app.Store()
	if d, err := store.Delivery(r.Context(), r.PathValue("id")); err != nil {
		writeStoreError(w, err)
		return
	} else if _, err := store.Subscription(r.Context(), d.SubscriptionID); errors.Is(err, webhook.ErrNotFound) {
		writeStoreError(w, conflictError("delivery "+d.ID+" belongs to subscription "+d.SubscriptionID+", which was deleted"))
		return
	}
	now := time.Now().UTC()
	d, err := store.UpdateDelivery(r.Context(), r.PathValue("id"), func(d *webhook.Delivery) error {
		if d.Status == webhook.Pending {
			return conflictError("delivery " + d.ID + " is already pending")
		}
		d.Redeliver(now)
		return nil
	})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, d)
}

// replay queues again, for one subscription, the stored events since a
// time that it would receive (its events and site filter).
func replay(w http.ResponseWriter, r *http.Request, app webhooksApp) {
	raw, err := readObject(r)
	if !checkInput(w, nil, err) {
		return
	}
	var since time.Time
	fe := webhook.FieldErrors{}
	for name, val := range raw {
		if name != "since" {
			fe[name] = "unknown field"
			continue
		}
		var s string
		if json.Unmarshal(val, &s) != nil {
			fe["since"] = "must be an RFC 3339 time like 2026-11-23T10:00:00Z"
			continue
		}
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			fe["since"] = "must be an RFC 3339 time like 2026-11-23T10:00:00Z"
		}
	}
	if _, ok := raw["since"]; !ok && len(fe) == 0 {
		fe["since"] = "required"
	}
	if len(fe) > 0 {
		writeError(w, http.StatusBadRequest, "invalid request", fe)
		return
	}
	sub, err := app.Store().Subscription(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	n, err := queueReplay(r.Context(), app.Store(), sub, since)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"replayed": n})
}

// replayBatch is how many deliveries a replay queues at a time, as it
// reads the events: its memory stays bounded whatever the number of
// events, and so does each write (a Badger transaction holds a few
// thousand deliveries).
const replayBatch = 1000

// queueReplay queues a delivery to sub of each event stored since the time
// that it would receive, replayBatch at a time, and returns how many it
// queued; after an error, the batches queued before it stay queued.
func queueReplay(ctx context.Context, store storage.Store, sub *webhook.Subscription, since time.Time) (int, error) {
	n := 0
	batch := make([]webhook.Event, 0, replayBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := store.AddDeliveries(ctx, sub, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err := store.EventsSince(ctx, since, func(ev webhook.Event) error {
		if !payload.Receives(sub, &ev) {
			return nil
		}
		if batch = append(batch, ev); len(batch) == replayBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// emptyBody refuses a body on routes that take none.
func emptyBody(w http.ResponseWriter, r *http.Request) bool {
	raw, err := readObject(r)
	if !checkInput(w, nil, err) {
		return false
	}
	for name := range raw {
		writeError(w, http.StatusBadRequest, "invalid request", webhook.FieldErrors{name: "unknown field"})
		return false
	}
	return true
}

// conflictError is a request that the resource's state refuses (409).
type conflictError string

func (e conflictError) Error() string { return string(e) }
