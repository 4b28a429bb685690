package caddymodule_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestInferOrderCreated(t *testing.T) {
	s := startStack(t, testRules, "")

	resp, body := post(t, s.module+"/api/orders", `{"total":42.5,"site":"site-1"}`, "X-Client", "pos-7")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var order struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal([]byte(body), &order); err != nil {
		t.Fatal(err)
	}
	// None of these may store anything:
	post(t, s.module+"/api/orders", `{"total":1,"fail":400}`)         // 4xx
	post(t, s.module+"/api/orders", `{"total":1,"fail":503}`)         // 5xx
	post(t, s.module+"/api/orders", `{not json`)                      // 400 from the app
	post(t, s.module+"/api/orders/x", `{"total":1}`)                  // path not matched
	if r, err := http.Get(s.module + "/api/orders/abc"); err == nil { // method not matched
		r.Body.Close()
	}
	post(t, s.plain+"/api/orders", `{"total":5000}`) // not through the module

	// The counters are in Caddy's metrics registry.
	resp, err := http.Get("http://" + s.caddy.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `caddy_webhooks_events_total{event="order.created"} 1`+"\n") {
		t.Errorf("metrics lack caddy_webhooks_events_total for order.created:\n%s", grepLines(string(metrics), "caddy_webhooks"))
	}
	s.caddy.Stop()

	evs := storedEvents(t, s.storage)
	created := byName(evs, "order.created")
	if len(created) != 1 {
		t.Fatalf("want exactly 1 order.created, got %d: %+v", len(created), evs)
	}
	want := `{"orderId":"` + order.ID + `","orderNumber":"CMD-` + order.ID + `","total":42.5,"via":"pos-7"}`
	if string(created[0].Data) != want {
		t.Errorf("data:\n got %s\nwant %s", created[0].Data, want)
	}
	if created[0].Site != "site-1" {
		t.Errorf("site = %q, want site-1", created[0].Site)
	}
	if !strings.HasPrefix(created[0].ID, "evt_") || created[0].Time.IsZero() {
		t.Errorf("bad id or time: %+v", created[0])
	}
	// `when: request.body.total > 1000` was false for every request that
	// went through the module.
	if big := byName(evs, "order.big"); len(big) != 0 {
		t.Errorf("order.big fired although its when was false: %+v", big)
	}
	if len(evs) != 1 {
		t.Errorf("want 1 event in all, got %d: %+v", len(evs), evs)
	}
}

func TestWhenTrueEmits(t *testing.T) {
	s := startStack(t, testRules, "")
	resp, body := post(t, s.module+"/api/orders", `{"total":1500,"site":"s"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s.caddy.Stop()
	evs := storedEvents(t, s.storage)
	if len(byName(evs, "order.big")) != 1 || len(byName(evs, "order.created")) != 1 {
		t.Fatalf("want order.created and order.big once each, got %+v", evs)
	}
	// Both events of one response are stored together with distinct ids.
	if evs[0].ID == evs[1].ID {
		t.Errorf("events share an id: %s", evs[0].ID)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
