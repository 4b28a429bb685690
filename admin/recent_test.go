package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestRecentEvents: the newest stored events come first, as many as
// asked, filtered by name or pattern; a bad query is a 400 naming its
// field.
func TestRecentEvents(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	for range 3 {
		resp, err := client.Post(e.site+"/api/orders", "application/json", strings.NewReader(`{"total":10}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var all []map[string]any
	testbed.Eventually(t, 15*time.Second, "three events listed", func() bool {
		all = a.Expect(a.Do(http.MethodGet, "/webhooks/events/recent", nil), http.StatusOK).List(t)
		return len(all) == 3
	})
	for i, ev := range all {
		if ev["event"] != "order.created" || ev["id"] == "" || ev["shadow"] != nil {
			t.Errorf("event %d: %v", i, ev)
		}
		if i > 0 && testbed.Str(ev["id"]) > testbed.Str(all[i-1]["id"]) {
			t.Errorf("event %d (%v) is newer than the one before it (%v)", i, ev["id"], all[i-1]["id"])
		}
	}
	two := a.Expect(a.Do(http.MethodGet, "/webhooks/events/recent?limit=2&event=order.*", nil), http.StatusOK).List(t)
	if len(two) != 2 || two[0]["id"] != all[0]["id"] || two[1]["id"] != all[1]["id"] {
		t.Errorf("limit=2&event=order.*: %v", two)
	}
	if none := a.Expect(a.Do(http.MethodGet, "/webhooks/events/recent?event=customer.created", nil), http.StatusOK).List(t); len(none) != 0 {
		t.Errorf("event=customer.created: %v", none)
	}
	// The transformation preview runs on the newest order.
	pv := a.Expect(a.Do(http.MethodPost, "/webhooks/transform/preview",
		map[string]any{"transform": `{"order": data.orderId, "kind": event}`, "events": []string{"order.*"}}), http.StatusOK).Object(t)
	if ev, _ := pv["event"].(map[string]any); ev["id"] != all[0]["id"] || testbed.Str(pv["data"].(map[string]any)["order"]) != "ord1" {
		t.Errorf("preview %v, want the newest order's transformed data", pv)
	}
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `1 +`, "events": []string{"order.*"}}), "transform")
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": data.nope.deeper}`}), "transform")
	a.APIError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": 1}`, "events": []string{"customer.*"}}), http.StatusNotFound)
	// The body is read as a subscription's: each field checked, unknown ones refused.
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": 7}), "transform")
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": 1}`, "events": "order.*"}), "events")
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": 1}`, "events": []string{"order..x"}}), "events")
	if msg := a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": 1}`, "events": []any{"order.created", 1}}), "events"); !strings.Contains(msg, "must be an array") {
		t.Errorf("events with a number: %q, want the array error", msg)
	}
	a.FieldError(a.Do(http.MethodPost, "/webhooks/transform/preview", map[string]any{"transform": `{"x": 1}`, "script": "x"}), "script")

	for query, field := range map[string]string{"limit=0": "limit", "limit=501": "limit", "limit=x": "limit", "event=order..x": "event"} {
		if msg := a.FieldError(a.Do(http.MethodGet, "/webhooks/events/recent?"+query, nil), field); msg == "" {
			t.Errorf("?%s: no error on %s", query, field)
		}
	}
}
