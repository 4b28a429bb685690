package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// TestEd25519Subscription: an ed25519 subscription gets a key pair; the
// API shows only its public key, with which alone the receiver verifies
// each delivery (Standard Webhooks' v1a); after a rotation with a grace
// period, deliveries verify with the old public key and the new one.
func TestEd25519Subscription(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keys []string // the public keys the receiver trusts
	verified := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("webhook-signature"), "v1a,") {
			t.Errorf("webhook-signature %q, want v1a", r.Header.Get("webhook-signature"))
		}
		for _, k := range keys {
			if err := signer.Verify(signer.Ed25519, r.Header, body, k, time.Now()); err != nil {
				t.Errorf("delivery %s does not verify with %s: %v", body, k[:12], err)
			}
		}
		verified++
	}))
	t.Cleanup(recv.Close)
	a, base := startCreated(t)
	a.FieldError(a.Do(http.MethodPost, "/webhooks/subscriptions", map[string]any{"url": recv.URL, "events": []string{"order.created"},
		"signature": "ed25519", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}), "secret")
	sub := a.Create(map[string]any{"url": recv.URL, "events": []string{"order.created"}, "signature": "ed25519"})
	pub := testbed.Str(sub["public_key"])
	if !strings.HasPrefix(pub, "whpk_") || sub["secret"] != nil || sub["secret_hint"] != nil {
		t.Fatalf("created: %v, want a public key and no secret", sub)
	}
	id := testbed.Str(sub["id"])
	if got := a.Get(id); got["public_key"] != pub || got["secret"] != nil || got["secret_hint"] != nil {
		t.Errorf("GET shows %v", got)
	}
	mu.Lock()
	keys = []string{pub}
	mu.Unlock()
	delivered := func(n int) {
		testbed.Eventually(t, 10*time.Second, fmt.Sprintf("%d deliveries verified", n), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return verified >= n
		})
	}
	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)
	delivered(1)

	rotated := a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/rotate-secret", map[string]any{"grace_period": "1h"}), http.StatusOK).Object(t)
	newPub := testbed.Str(rotated["public_key"])
	if !strings.HasPrefix(newPub, "whpk_") || newPub == pub || rotated["previous_public_key"] != pub {
		t.Fatalf("rotated: %v", rotated)
	}
	mu.Lock()
	keys = []string{pub, newPub}
	mu.Unlock()
	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)
	delivered(2)
}
