package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
)

const shadowRules = `events:
  - name: order.created
    match: { method: POST, path: /items/orders, status: 200 }
    data: response.body.data
  - name: order.tried
    shadow: true
    match: { method: POST, path: /items/orders, status: 200 }
    data: response.body.data
`

// TestShadowEvents: a shadow rule's events, and every event of a handler
// in shadow mode, are stored, marked, and never delivered, while the
// other rules' events are.
func TestShadowEvents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, mode string
		delivered  []string
	}{
		{"rule", "", []string{"order.created"}},
		{"handler", "mode shadow", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []string
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var env struct{ Event string }
				body, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(body, &env)
				mu.Lock()
				got = append(got, env.Event)
				mu.Unlock()
			}))
			t.Cleanup(recv.Close)
			_, up := newBatchApp(t)
			dir := t.TempDir()
			rulePath := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(rulePath, []byte(shadowRules), 0o600); err != nil {
				t.Fatal(err)
			}
			port := testbed.FreePort(t)
			cfg := testbed.Global(fmt.Sprintf(`allow_private_targets
		subscription ops {
			url %s
			events *
			secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
		}`, recv.URL)) + fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
		%s
	}
	reverse_proxy %s
}
`, port, rulePath, tt.mode, up.Listener.Addr())
			c := testbed.StartCaddy(t, dir, cfg)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)
			// The live event's delivery arrives; the store then shows
			// that the shadow ones have none (created at the commit, or
			// never).
			waitDelivered(t, &mu, &got, len(tt.delivered))
			c.Stop()

			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.delivered) {
				t.Errorf("delivered %v, want %v", got, tt.delivered)
			}
			evs := storedEvents(t, filepath.Join(dir, "webhooks"))
			shadow := map[string]bool{}
			for _, e := range evs {
				shadow[e.Name] = e.Shadow
			}
			want := map[string]bool{"order.created": tt.mode != "", "order.tried": true}
			if len(evs) != 2 || shadow["order.created"] != want["order.created"] || shadow["order.tried"] != want["order.tried"] {
				t.Errorf("stored %+v, want both events, shadow %v", evs, want)
			}
			s, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dir, "webhooks")})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ds, err := s.Deliveries(context.Background(), "ops", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if shadow[d.Event] {
					t.Errorf("a delivery of the shadow event %s: %+v", d.Event, d)
				}
			}
		})
	}
}

// waitDelivered waits, polling, until the receiver got n deliveries.
func waitDelivered(t *testing.T, mu *sync.Mutex, got *[]string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(*got)
		mu.Unlock()
		if k >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
