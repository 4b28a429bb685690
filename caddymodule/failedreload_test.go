package caddymodule_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// failedLoads is how often the failing config is loaded: Caddy starts a
// config's apps in map order, so the webhooks app starts before the HTTP
// app fails in about half the tries; after 16, all but once in 65,536.
const failedLoads = 16

// TestFailedReloadKeepsDeliverySettings loads, again and again, a config
// that fails to start (its HTTP server's port is taken) and whose webhooks
// app refuses private targets: the running config, which allows them,
// must still deliver to its loopback receiver. The store's one dispatcher
// takes a config's delivery settings when its webhooks app starts; the
// config still serving must get its own back when the failed one stops.
func TestFailedReloadKeepsDeliverySettings(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got.Add(1) }))
	t.Cleanup(recv.Close)
	s := startStack(t, testRules, "allow_private_targets")
	a := testbed.API{T: t, Base: "http://" + s.caddy.AdminAddr}
	id := testbed.Str(a.Create(map[string]any{"url": recv.URL, "events": []string{"order.created"}})["id"])

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = taken.Close() })
	failing := strings.Replace(s.config, "allow_private_targets", "", 1) +
		fmt.Sprintf("http://%s {\n\trespond ok\n}\n", taken.Addr())
	for range failedLoads {
		if code, body := s.caddy.Load(failing); code == http.StatusOK {
			t.Fatalf("a config whose port is taken loaded: %s", body)
		}
	}

	r := a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/test", nil), http.StatusOK).Object(t)
	if r["success"] != true || got.Load() != 1 {
		t.Errorf("after %d failed reloads, a test delivery to the running config's loopback receiver: %v (receiver got %d)", failedLoads, r, got.Load())
	}
}
