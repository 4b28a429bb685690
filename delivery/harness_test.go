package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// stack is the shop behind a real Caddy process with the shop's rules,
// and a receiver, all over loopback TCP.
type stack struct {
	t     *testing.T
	caddy *testbed.Caddy
	shop  string // base URL through Caddy
	admin string
	rcv   *receiver
	cfg   string
}

// startStack starts the stack; global goes into the webhooks global option
// (allow_private_targets is added unless global says "guarded").
func startStack(t *testing.T, global string) *stack {
	t.Helper()
	app := httptest.NewServer(orderApp())
	t.Cleanup(app.Close)
	rcv := newReceiver(t, time.Now)
	port := testbed.FreePort(t)
	if !strings.Contains(global, "guarded") {
		global += "\n\t\tallow_private_targets"
	}
	global = strings.ReplaceAll(global, "guarded", "")
	cfg := testbed.Global(global) + testbed.Site(port, "delivery/testdata/rules.yaml", app.Listener.Addr())
	c := testbed.StartCaddy(t, "", cfg)
	return &stack{t: t, caddy: c, shop: fmt.Sprintf("http://127.0.0.1:%d", port), admin: "http://" + c.AdminAddr, rcv: rcv, cfg: cfg}
}

// orderApp is the legacy app behind Caddy: it answers each created order
// with a new id and the order's site.
func orderApp() http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Site string `json:"site"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/api/orders" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"_id": fmt.Sprintf("ord%06d", n.Add(1)), "site": in.Site, "status": "pending"})
	})
}

// call sends a JSON request and decodes a JSON answer into out (if non-nil).
func call(t *testing.T, method, url string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s (want %d)", method, url, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

// subscribe creates a subscription to the receiver's path and returns its
// id and secret.
// For an ed25519 subscription, secret is its public key.
func (s *stack) subscribe(path string, fields map[string]any) (id, secret string) {
	s.t.Helper()
	body := map[string]any{"url": s.rcv.url + path, "events": []string{"order.*", "customer.*"}}
	for k, v := range fields {
		body[k] = v
	}
	var sub struct {
		ID, Secret string
		PublicKey  string `json:"public_key"` // what verifies an ed25519 subscription's deliveries
	}
	call(s.t, "POST", s.admin+"/webhooks/subscriptions", body, 201, &sub)
	if sub.PublicKey != "" {
		return sub.ID, sub.PublicKey
	}
	return sub.ID, sub.Secret
}

// order creates an order through Caddy and returns its id.
func (s *stack) order() string {
	s.t.Helper()
	var o struct {
		ID string `json:"_id"`
	}
	call(s.t, "POST", s.shop+"/api/orders", map[string]any{
		"customer": map[string]any{"email": "marie@example.ch", "name": "Marie"},
		"items":    []map[string]any{{"sku": "MUG", "name": "Mug", "quantity": 1, "price": 10}},
		"site":     "site-1",
	}, 201, &o)
	return o.ID
}

// deliveries lists a subscription's deliveries through the admin API.
func (s *stack) deliveries(subID, status string) []delivery {
	s.t.Helper()
	var out []delivery
	call(s.t, "GET", s.admin+"/webhooks/subscriptions/"+subID+"/deliveries?status="+status, nil, 200, &out)
	return out
}

func (s *stack) subscription(id string) map[string]any {
	s.t.Helper()
	var out map[string]any
	call(s.t, "GET", s.admin+"/webhooks/subscriptions/"+id, nil, 200, &out)
	return out
}

type delivery struct {
	ID       string `json:"id"`
	EventID  string `json:"event_id"`
	Event    string `json:"event"`
	Status   string `json:"status"`
	Attempts []struct {
		N          int    `json:"attempt"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
		Response   string `json:"response_body"`
		At         time.Time
	} `json:"attempts"`
}

// readEnvelope decodes a delivery body.
func readEnvelope(t *testing.T, b []byte) (id, event, ts string, data map[string]any) {
	t.Helper()
	var e struct {
		ID        string         `json:"id"`
		Event     string         `json:"event"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return e.ID, e.Event, e.Timestamp, e.Data
}

// orderOrEmpty creates an order and returns its id, or "" when the request
// failed (as during a reload, when Caddy may reset a connection).
func (s *stack) orderOrEmpty() string {
	body := `{"customer":{"email":"r@example.ch","name":"R"},"items":[{"sku":"A","name":"A","quantity":1,"price":1}],"site":"s"}`
	resp, err := http.Post(s.shop+"/api/orders", "application/json", strings.NewReader(body))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var o struct {
		ID string `json:"_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&o) != nil {
		return ""
	}
	return o.ID
}
