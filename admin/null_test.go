package admin_test

import (
	"net/http"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestNullValues: null clears an optional field and is refused for a
// required one.
func TestNullValues(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	id := testbed.Str(a.Create(with(map[string]any{"description": "to clear", "headers": map[string]any{"X-A": "1"}}))["id"])
	for _, field := range []string{"url", "events", "signature", "is_active"} {
		r := a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{field: nil})
		if msg := a.FieldError(r, field); msg != "must not be null" {
			t.Errorf("PATCH %s: null: field error %q", field, msg)
		}
	}
	r := a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"description": nil, "headers": nil, "filters": nil}), http.StatusOK)
	sub := r.Object(t)
	if sub["description"] != "" || len(sub["headers"].(map[string]any)) != 0 || len(testbed.Strs(sub["filters"].(map[string]any)["site_ids"])) != 0 {
		t.Errorf("null did not clear the optional fields: %s", r)
	}
}
