package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// workflowSecret is the config subscription's secret, given to Caddy in
// its environment and to the Caddyfile as {env.ADMIN_TEST_WORKFLOW_SECRET}.
const workflowSecret = "workflow-shared-secret-0123456789"

// workflowBlock is a `subscription workflow {…}` block of the webhooks
// global option.
func workflowBlock(url string, events ...string) string {
	return fmt.Sprintf(`subscription workflow {
			url %s
			events %s
			secret {env.ADMIN_TEST_WORKFLOW_SECRET}
			signature sha256
			description "kept in the Caddyfile"
		}`, url, strings.Join(events, " "))
}

// TestConfigSubscriptions checks subscriptions declared in the Caddyfile:
// created at start, read-only in the API (409), updated and removed with
// the config, and a config naming an unknown event refused. Not parallel:
// it sets an environment variable for Caddy.
func TestConfigSubscriptions(t *testing.T) {
	t.Setenv("ADMIN_TEST_WORKFLOW_SECRET", workflowSecret)
	const url1, url2 = "https://workflow.example.com/api/webhooks/cms", "https://workflow2.example.com/in"
	e := startEnv(t, workflowBlock(url1, "order.created", "order.paid"))
	a := e.API
	const id = "sub_workflow"
	path := "/webhooks/subscriptions/" + id

	// Created at start, with managed_by config; its secret is hidden too.
	r := a.Expect(a.Do(http.MethodGet, path, nil), http.StatusOK)
	sub := r.Object(t)
	want := map[string]any{
		"id": id, "app_name": "workflow", "url": url1, "events": []any{"order.created", "order.paid"},
		"signature": "sha256", "is_active": true, "managed_by": "config", "description": "kept in the Caddyfile",
		"disabled_reason": nil,
	}
	for k, v := range want {
		if !reflect.DeepEqual(sub[k], v) {
			t.Errorf("config subscription %s = %#v, want %#v", k, sub[k], v)
		}
	}
	noSecret(t, "get config subscription", sub, r.Body, workflowSecret)

	// An API subscription beside it.
	own := testbed.Str(a.Create(with(nil))["id"])
	list := a.ListSubs("")
	if got := ids(list); len(got) != 2 || !slices.Contains(got, id) || !slices.Contains(got, own) {
		t.Fatalf("list: %v", got)
	}
	for _, s := range list {
		if s["id"] == id && s["managed_by"] != "config" {
			t.Errorf("list shows the config subscription without managed_by: %v", s)
		}
		if s["id"] == own && s["managed_by"] != nil {
			t.Errorf("list shows the API subscription with managed_by: %v", s)
		}
	}
	if got := ids(a.ListSubs("?is_active=true")); !slices.Contains(got, id) {
		t.Errorf("?is_active=true misses the config subscription: %v", got)
	}

	// The API refuses to change it: 409 saying it comes from the config.
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, path, map[string]any{"description": "mine now"}},
		{http.MethodPatch, path, map[string]any{"url": url2}},
		{http.MethodPatch, path, map[string]any{"is_active": false}},
		{http.MethodPatch, path, map[string]any{}},
		{http.MethodDelete, path, nil},
		{http.MethodPost, path + "/rotate-secret", nil},
		{http.MethodPost, path + "/rotate-secret", map[string]any{"grace_period": "24h"}},
	} {
		msg, _ := a.APIError(a.Do(rq.method, rq.path, rq.body), http.StatusConflict)
		if !strings.Contains(msg, "config") {
			t.Errorf("%s %s: 409 message %q does not say it comes from the config", rq.method, rq.path, msg)
		}
	}
	if got := a.Get(id); !reflect.DeepEqual(got, sub) {
		t.Errorf("refused changes changed the config subscription:\n got %v\nwant %v", got, sub)
	}

	// A reload with the same block leaves it as it is.
	e.reload(e.config(workflowBlock(url1, "order.created", "order.paid")))
	if got := a.Get(id); !reflect.DeepEqual(got, sub) {
		t.Errorf("reloading the same block changed the subscription:\n got %v\nwant %v", got, sub)
	}

	// A reload with a changed block updates it, keeping its id and creation.
	e.reload(e.config(workflowBlock(url2, "order.*")))
	got := a.Get(id)
	if got["url"] != url2 || !reflect.DeepEqual(testbed.Strs(got["events"]), []string{"order.*"}) {
		t.Errorf("reload with a changed block: %v", got)
	}
	if got["created_at"] != sub["created_at"] || !parseTime(t, got["updated_at"]).After(parseTime(t, sub["updated_at"])) {
		t.Errorf("reload: created_at %v -> %v, updated_at %v -> %v", sub["created_at"], got["created_at"], sub["updated_at"], got["updated_at"])
	}
	if got["managed_by"] != "config" || got["secret_hint"] != sub["secret_hint"] {
		t.Errorf("reload: %v", got)
	}

	// Kept across a restart on the same data.
	e.restart(e.config(workflowBlock(url2, "order.*")))
	a = e.API
	if g := a.Get(id); g["url"] != url2 || g["created_at"] != sub["created_at"] || g["managed_by"] != "config" {
		t.Errorf("after a restart: %v", g)
	}
	a.Get(own)
	a.APIError(a.Do(http.MethodDelete, path, nil), http.StatusConflict)

	// A config subscription naming an event the rules do not know makes the
	// load fail; the running config stays, and the store is untouched.
	status, body := e.Load(e.config(workflowBlock(url1, "order.created", "order.refunded")))
	if status == http.StatusOK {
		t.Fatalf("a config subscription with an unknown event was loaded: %s", body)
	}
	if !strings.Contains(body, "order.refunded") {
		t.Errorf("the load error does not name the unknown event: %d %s", status, body)
	}
	if g := a.Get(id); g["url"] != url2 || !reflect.DeepEqual(testbed.Strs(g["events"]), []string{"order.*"}) {
		t.Errorf("the refused config changed the subscription: %v", g)
	}
	a.Get(own)
	a.Create(with(map[string]any{"description": "after a refused load"}))

	// Removing the block removes the subscription, and only it.
	e.reload(e.config(""))
	a.APIError(a.Do(http.MethodGet, path, nil), http.StatusNotFound)
	if got := ids(a.ListSubs("")); slices.Contains(got, id) || !slices.Contains(got, own) || len(got) != 2 {
		t.Errorf("after removing the block: %v", got)
	}

	// The env secret reached no log.
	secretsNotLogged(t, e.Caddy, workflowSecret)
}

// TestConfigSubscriptionUnknownEventAtStart checks that Caddy refuses to
// start with a config subscription naming an event the rules do not know.
func TestConfigSubscriptionUnknownEventAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := strings.NewReplacer(testbed.AdminPlaceholder, fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t)),
		testbed.LogPlaceholder, filepath.Join(dir, "caddy.log"), testbed.DirPlaceholder, dir).
		Replace(webhooksConfig(testbed.FreePort(t), "127.0.0.1:9", testbed.WriteOrderRules(t), `subscription workflow {
			url https://workflow.example.com/in
			events order.created order.refunded
			secret workflow-shared-secret-0123456789
			signature sha256
		}`))
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testbed.CaddyBinary(t), "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("caddy run did not fail at once (err %v, ctx %v):\n%s", err, ctx.Err(), out)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "caddy.log"))
	if !strings.Contains(string(out)+string(logs), "order.refunded") {
		t.Errorf("the start error does not name the unknown event:\n%s\n%s", out, logs)
	}
}
