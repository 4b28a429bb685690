package admin_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
)

// TestSubscriptionsSurviveRestartAndReload checks that subscriptions made
// through the API are kept across a restart of Caddy and a config reload.
func TestSubscriptionsSurviveRestartAndReload(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API

	full := a.Create(with(map[string]any{
		"app_name": "crm", "description": "everything set", "signature": "sha256", "secret": "crm-shared-secret-0001",
		"events": []string{"order.*", "customer.created"}, "filters": map[string]any{"site_ids": []string{"s1"}},
		"rate_limit": "7/s", "headers": map[string]string{"X-Tenant": "t1"},
	}))
	paused := a.Create(with(map[string]any{"is_active": false, "description": "paused"}))
	rotated := a.Create(with(nil))
	rot := a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/"+testbed.Str(rotated["id"])+"/rotate-secret", map[string]any{"grace_period": "24h"}), http.StatusOK).Object(t)
	secrets := map[string]string{
		testbed.Str(full["id"]):    testbed.Str(full["secret"]),
		testbed.Str(paused["id"]):  testbed.Str(paused["secret"]),
		testbed.Str(rotated["id"]): testbed.Str(rot["secret"]),
	}
	before := a.ListSubs("")
	if len(before) != 3 {
		t.Fatalf("list: %v", ids(before))
	}

	// Restart on the same directory and config: the same list.
	cfg := e.config("")
	e.restart(cfg)
	a = e.API
	if after := a.ListSubs(""); !reflect.DeepEqual(after, before) {
		t.Fatalf("after a restart:\n got %v\nwant %v", after, before)
	}
	if g := a.Get(testbed.Str(rotated["id"])); g["previous_secret_expires_at"] != rot["previous_secret_expires_at"] {
		t.Errorf("grace period lost in the restart: %v", g["previous_secret_expires_at"])
	}

	// Reload with a changed config (a new default rate limit): the same
	// subscriptions; those that follow the default show the new one.
	changed := e.config("rate_limit 50/m")
	e.reload(changed)
	after := a.ListSubs("")
	if len(after) != len(before) {
		t.Fatalf("after a reload: %v", ids(after))
	}
	for i := range before {
		want := before[i]
		if want["id"] != testbed.Str(full["id"]) {
			want["rate_limit"] = "50/m" // the reloaded config's default
		}
		if !reflect.DeepEqual(after[i], want) {
			t.Errorf("after a reload:\n got %v\nwant %v", after[i], want)
		}
	}
	// The API works on the reloaded config.
	added := a.Create(with(map[string]any{"description": "after reload"}))
	secrets[testbed.Str(added["id"])] = testbed.Str(added["secret"])
	a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+testbed.Str(paused["id"]), map[string]any{"is_active": true}), http.StatusOK)

	// And a restart with the changed config keeps all of it.
	before = a.ListSubs("")
	e.restart(changed)
	a = e.API
	if after := a.ListSubs(""); !reflect.DeepEqual(after, before) {
		t.Fatalf("after the second restart:\n got %v\nwant %v", after, before)
	}
	if a.Get(testbed.Str(paused["id"]))["is_active"] != true {
		t.Errorf("resume lost in the restart")
	}

	// The full secrets were stored, not only their hints.
	e.Stop()
	s, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(e.Dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, secret := range secrets {
		sub, err := s.Subscription(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Secret != secret {
			t.Errorf("%s: stored secret %q, answered %q", id, sub.Secret, secret)
		}
	}
	if sub, _ := s.Subscription(context.Background(), testbed.Str(rotated["id"])); sub.PreviousSecret != testbed.Str(rotated["secret"]) {
		t.Errorf("rotated with grace: previous secret %q, want %q", sub.PreviousSecret, rotated["secret"])
	}
}

// TestFailedReloadKeepsAPI checks that a reload which fails after the new
// config's webhooks app started (its HTTP app cannot bind a port) leaves
// the API serving the running config. Caddy starts apps in map order, so
// the load is tried several times to get the webhooks app started first.
func TestFailedReloadKeepsAPI(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	id := testbed.Str(a.Create(with(nil))["id"])

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// The refused config also declares a subscription: a failed load must
	// not leave it in the store (its webhooks app may start before the HTTP
	// app fails on the busy port; Caddy starts apps in no fixed order).
	declares := "rate_limit 5/m\n\t\tsubscription extra {\n\t\t\turl https://x.example.com/h\n\t\t\tevents *\n\t\t\tsecret 0123456789abcdef0123\n\t\t\tsignature hex\n\t\t}"
	cfg := e.config(declares) + fmt.Sprintf("http://127.0.0.1:%d {\n\trespond ok\n}\n", busy.Addr().(*net.TCPAddr).Port)
	for i := 0; i < 8; i++ {
		if status, body := e.Load(cfg); status == http.StatusOK {
			t.Fatalf("a config with a busy port was loaded: %s", body)
		}
		r := a.Do(http.MethodGet, "/webhooks/subscriptions", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("after failed load %d, the API of the running config answers %s", i+1, r)
		}
		if got := r.List(t); len(got) != 1 || got[0]["id"] != id || got[0]["rate_limit"] != "100/m" {
			t.Fatalf("after failed load %d: %s", i+1, r)
		}
	}
	// The running config still serves its site. A connection may be reset
	// while a refused config's listener on the same port closes (Caddy's
	// SO_REUSEPORT rebinding, with plain reverse_proxy too): poll for the
	// app's answer rather than fail on that.
	testbed.Eventually(t, 10*time.Second, "the site answers 201 after failed loads", func() bool {
		resp, err := client.Post(e.site+"/api/orders", "application/json", strings.NewReader(`{}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("site after failed loads: %s", resp.Status)
		}
		return resp.StatusCode == http.StatusCreated
	})
}
