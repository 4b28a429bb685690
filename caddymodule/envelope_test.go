package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// The status-change rule for an app that answers the order itself, and
// for one that wraps it in an envelope ({"data": {...}}, as Directus or
// Strapi do): the snapshot and the prefetch's select take the order out
// of the envelope, so previous has the same shape either way.
const (
	plainOrderRules = `events:
  - name: order.status_changed
    match: { method: PATCH, path: "/items/orders/{id}", status: 200 }
    state: { key: "order:{path.id}", snapshot: response.body, prefetch: "GET /items/orders/{path.id}" }
    when: previous.status != response.body.status
    data: { orderId: path.id, oldStatus: previous.status, newStatus: response.body.status }
`
	envelopeOrderRules = `events:
  - name: order.status_changed
    match: { method: PATCH, path: "/items/orders/{id}", status: 200 }
    state:
      key: "order:{path.id}"
      snapshot: response.body.data
      prefetch: { request: "GET /items/orders/{path.id}", select: data }
    when: previous.status != response.body.data.status
    data: { orderId: path.id, oldStatus: previous.status, newStatus: response.body.data.status }
`
)

// itemsApp keeps orders created straight on the app (the proxy never saw
// them) and answers GET and PATCH /items/orders/{id} with the order,
// wrapped in {"data": …} when envelope is set. The order broken answers
// its GETs with 200 and an error envelope, as GraphQL-style APIs do.
func itemsApp(t *testing.T, envelope bool, broken string) *httptest.Server {
	var mu sync.Mutex
	status := map[string]string{"o1": "pending", "o2": "new", "o3": "pending"}
	answer := func(w http.ResponseWriter, id string, read bool) {
		w.Header().Set("Content-Type", "application/json")
		order := fmt.Sprintf(`{"id":%q,"status":%q,"total":10}`, id, status[id])
		switch {
		case envelope && read && id == broken:
			io.WriteString(w, `{"errors":[{"message":"forbidden"}]}`)
		case envelope:
			io.WriteString(w, `{"data":`+order+`}`)
		default:
			io.WriteString(w, order)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		answer(w, r.PathValue("id"), true)
	})
	mux.HandleFunc("PATCH /items/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Status string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		status[r.PathValue("id")] = body.Status
		answer(w, r.PathValue("id"), false)
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return up
}

// TestEnvelopeGivesTheSameEvents: the same changes through an app that
// answers plain orders and one that answers envelopes give the same
// events, old values from the prefetch included; an answer the select
// finds nothing in leaves previous null, and says why.
func TestEnvelopeGivesTheSameEvents(t *testing.T) {
	t.Parallel()
	steps := []struct{ id, status string }{{"o1", "paid"}, {"o1", "shipped"}, {"o2", "paid"}, {"o1", "shipped"}}
	want := []change{{"o1", "pending", "paid"}, {"o1", "paid", "shipped"}, {"o2", "new", "paid"}}
	for _, tt := range []struct {
		name     string
		envelope bool
		rules    string
	}{
		{"plain", false, plainOrderRules},
		{"envelope", true, envelopeOrderRules},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := itemsApp(t, tt.envelope, "o3")
			dir := t.TempDir()
			rulePath := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(rulePath, []byte(tt.rules), 0o600); err != nil {
				t.Fatal(err)
			}
			mp, pp := testbed.FreePort(t), testbed.FreePort(t)
			c := testbed.StartCaddy(t, dir, caddyfileFor(mp, pp, up.Listener.Addr().String(), rulePath, ""))
			base := fmt.Sprintf("http://127.0.0.1:%d", mp)
			for _, s := range steps {
				patchStatus(t, base, s.id, s.status)
			}
			if tt.envelope {
				patchStatus(t, base, "o3", "paid")
			}
			c.Stop()
			got := changes(t, storedEvents(t, filepath.Join(dir, "webhooks")), "order.status_changed")
			wantHere := want
			if tt.envelope {
				wantHere = append(append([]change{}, want...), change{"o3", "<null>", "paid"})
				why := logLines(c, "state_prefetch_failed")
				if len(why) != 1 || why[0]["reason"] != "prefetch_select_missing" || why[0]["key"] != "order:o3" {
					t.Errorf("state_prefetch_failed logs: %v", why)
				}
			}
			if !reflect.DeepEqual(got, wantHere) {
				t.Errorf("changes = %v\nwant %v", got, wantHere)
			}
		})
	}
}

func patchStatus(t *testing.T, base, id, status string) {
	t.Helper()
	if code := sendStatus(t, http.MethodPatch, base+"/items/orders/"+id, status); code != http.StatusOK {
		t.Fatalf("PATCH %s: %d", id, code)
	}
}
