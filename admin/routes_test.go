package admin_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestSubscriptionLifecycle walks every subscription route and its status
// codes: list, create, get, PUT, PATCH, DELETE, and the 404s of unknown ids.
func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API

	// An empty store lists as an empty array, not null.
	r := a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions", nil), http.StatusOK)
	if strings.TrimSpace(string(r.Body)) != "[]" {
		t.Fatalf("empty list: %s", r)
	}

	// Create: 201 with the whole subscription and its defaults.
	before := time.Now().Add(-time.Second)
	r = a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions", map[string]any{
		"url":         receiver,
		"events":      []string{"order.created", "order.paid"},
		"description": "the shop's orders",
		"filters":     map[string]any{"site_ids": []string{"site1"}},
		"headers":     map[string]string{"X-Custom": "yes"},
	}), http.StatusCreated)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("create answer Cache-Control %q, want no-store (it carries the secret)", cc)
	}
	sub := r.Object(t)
	id := testbed.Str(sub["id"])
	if !strings.HasPrefix(id, "sub_") || len(id) <= len("sub_") {
		t.Fatalf("id %q does not start with sub_", id)
	}
	want := map[string]any{
		"app_name":        "receiver.example.com", // the URL's host when not given
		"url":             receiver,
		"events":          []any{"order.created", "order.paid"},
		"description":     "the shop's orders",
		"is_active":       true,
		"signature":       "standard",
		"filters":         map[string]any{"site_ids": []any{"site1"}},
		"rate_limit":      "100/m", // the app's default
		"headers":         map[string]any{"X-Custom": "yes"},
		"disabled_reason": nil,
		"stats": map[string]any{
			"total_sent": 0.0, "total_failed": 0.0, "last_sent_at": nil, "last_error": nil, "consecutive_failures": 0.0,
		},
	}
	for k, v := range want {
		if !reflect.DeepEqual(sub[k], v) {
			t.Errorf("created %s = %#v, want %#v", k, sub[k], v)
		}
	}
	if _, ok := sub["managed_by"]; ok {
		t.Errorf("an API subscription has managed_by: %v", sub["managed_by"])
	}
	created := parseTime(t, sub["created_at"])
	if created.Before(before) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("created_at %v is not now", created)
	}
	if !parseTime(t, sub["updated_at"]).Equal(created) {
		t.Errorf("updated_at %v != created_at %v on create", sub["updated_at"], sub["created_at"])
	}
	secret := testbed.Str(sub["secret"])

	// Get: the same subscription, secret hidden.
	got := a.Get(id)
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("get %s = %#v, want %#v", k, got[k], v)
		}
	}
	noSecret(t, "get", got, nil, secret)

	// List: it is there.
	if l := a.ListSubs(""); !reflect.DeepEqual(ids(l), []string{id}) {
		t.Fatalf("list ids %v, want [%s]", ids(l), id)
	}

	// PUT changes only the fields it names.
	r = a.Expect(a.Do(http.MethodPut, "/webhooks/subscriptions/"+id, map[string]any{
		"description": "renamed", "events": []string{"order.*"},
	}), http.StatusOK)
	put := r.Object(t)
	if put["description"] != "renamed" || !reflect.DeepEqual(testbed.Strs(put["events"]), []string{"order.*"}) {
		t.Errorf("PUT did not apply its fields: %s", r)
	}
	for _, k := range []string{"url", "app_name", "filters", "headers", "signature", "is_active", "rate_limit", "created_at"} {
		if !reflect.DeepEqual(put[k], got[k]) {
			t.Errorf("PUT changed %s: %#v -> %#v", k, got[k], put[k])
		}
	}
	if !parseTime(t, put["updated_at"]).After(created) {
		t.Errorf("PUT did not move updated_at: %v", put["updated_at"])
	}
	noSecret(t, "PUT", put, r.Body, secret)

	// PATCH too, keeping the other fields, including those PUT set.
	r = a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{
		"url": "https://other.example.com/in", "rate_limit": "10/s",
	}), http.StatusOK)
	patched := r.Object(t)
	if patched["url"] != "https://other.example.com/in" || patched["rate_limit"] != "10/s" {
		t.Errorf("PATCH did not apply its fields: %s", r)
	}
	for _, k := range []string{"description", "events", "app_name", "filters", "headers", "signature", "is_active", "created_at"} {
		if !reflect.DeepEqual(patched[k], put[k]) {
			t.Errorf("PATCH changed %s: %#v -> %#v", k, put[k], patched[k])
		}
	}
	noSecret(t, "PATCH", patched, r.Body, secret)
	// The change is stored, not only answered.
	if g := a.Get(id); !reflect.DeepEqual(g["url"], patched["url"]) || !reflect.DeepEqual(g["description"], "renamed") {
		t.Errorf("GET after PATCH: %v", g)
	}

	// An empty PATCH changes nothing.
	r = a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{}), http.StatusOK)
	if o := r.Object(t); o["url"] != patched["url"] || o["description"] != "renamed" {
		t.Errorf("empty PATCH changed the subscription: %s", r)
	}

	// Unknown ids: 404 with a JSON error on every route that takes an id.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		var body any
		if m == http.MethodPut || m == http.MethodPatch {
			body = map[string]any{"description": "x"}
		}
		a.APIError(a.Do(m, "/webhooks/subscriptions/sub_doesnotexist", body), http.StatusNotFound)
	}
	a.APIError(a.Do(http.MethodPost, "/webhooks/subscriptions/sub_doesnotexist/rotate-secret", nil), http.StatusNotFound)

	// Rotate-secret answers 200 (its details are in TestRotateSecret).
	a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/rotate-secret", nil), http.StatusOK)

	// DELETE: 204 with no body, then 404 everywhere.
	r = a.Do(http.MethodDelete, "/webhooks/subscriptions/"+id, nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: want 204 with no body, got %s", r)
	}
	a.APIError(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil), http.StatusNotFound)
	a.APIError(a.Do(http.MethodDelete, "/webhooks/subscriptions/"+id, nil), http.StatusNotFound)
	a.APIError(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"description": "x"}), http.StatusNotFound)
	a.APIError(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/rotate-secret", nil), http.StatusNotFound)
	if l := a.ListSubs(""); len(l) != 0 {
		t.Fatalf("list after DELETE: %v", ids(l))
	}
}

// TestActiveFilterAndResume pauses and resumes subscriptions with PATCH
// is_active and checks the ?is_active filter of the list.
func TestActiveFilterAndResume(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API

	on := testbed.Str(a.Create(map[string]any{"url": receiver, "events": []string{"order.created"}})["id"])
	off := testbed.Str(a.Create(map[string]any{"url": receiver, "events": []string{"order.paid"}, "is_active": false})["id"])
	paused := testbed.Str(a.Create(map[string]any{"url": receiver, "events": []string{"*"}})["id"])

	// Pause one with PATCH.
	r := a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+paused, map[string]any{"is_active": false}), http.StatusOK)
	if o := r.Object(t); o["is_active"] != false || o["disabled_reason"] != nil {
		t.Fatalf("paused by an admin: want is_active false and disabled_reason null: %s", r)
	}
	if g := a.Get(paused); g["is_active"] != false {
		t.Fatalf("pause not stored: %v", g)
	}

	check := func(query string, want ...string) {
		t.Helper()
		got := ids(a.ListSubs(query))
		if len(got) != len(want) {
			t.Fatalf("list%s = %v, want %v", query, got, want)
		}
		for _, id := range want {
			if !slices.Contains(got, id) {
				t.Fatalf("list%s = %v, want %v", query, got, want)
			}
		}
	}
	check("", on, off, paused)
	check("?is_active=true", on)
	check("?is_active=false", off, paused)

	// Any other value is a 400 naming the parameter.
	for _, q := range []string{"?is_active=yes", "?is_active=1", "?is_active=TRUE", "?is_active=%20"} {
		a.FieldError(a.Do(http.MethodGet, "/webhooks/subscriptions"+q, nil), "is_active")
	}

	// Resume: is_active true again, disabled_reason null.
	r = a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+paused, map[string]any{"is_active": true}), http.StatusOK)
	if o := r.Object(t); o["is_active"] != true || o["disabled_reason"] != nil {
		t.Fatalf("resumed: want is_active true and disabled_reason null: %s", r)
	}
	if g := a.Get(paused); g["is_active"] != true || g["disabled_reason"] != nil {
		t.Fatalf("resume not stored: %v", g)
	}
	check("?is_active=true", on, paused)
	check("?is_active=false", off)

	// The stats count them.
	var st struct {
		Subscriptions *int64 `json:"subscriptions"`
		Active        *int64 `json:"active_subscriptions"`
	}
	if err := json.Unmarshal(a.Expect(a.Do(http.MethodGet, "/webhooks/stats", nil), http.StatusOK).Body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Subscriptions == nil || *st.Subscriptions != 3 || st.Active == nil || *st.Active != 2 {
		t.Fatalf("stats: want 3 subscriptions, 2 active; got %+v", st)
	}
}

// TestEventsAndStats checks the event catalogue, its alias, and the stats.
func TestEventsAndStats(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API

	for _, path := range []string{"/webhooks/events", "/webhooks/events/available"} {
		r := a.Expect(a.Do(http.MethodGet, path, nil), http.StatusOK)
		var got []eventInfo
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if !reflect.DeepEqual(got, catalogue) {
			t.Errorf("GET %s = %+v, want %+v", path, got, catalogue)
		}
	}

	stats := func() map[string]any {
		return a.Expect(a.Do(http.MethodGet, "/webhooks/stats", nil), http.StatusOK).Object(t)
	}
	st := stats()
	for _, k := range []string{"events", "subscriptions", "active_subscriptions"} {
		if st[k] != 0.0 {
			t.Errorf("stats %s = %v on an empty store, want 0", k, st[k])
		}
	}

	// An order through the proxy is an event in the store.
	resp, err := client.Post(e.site+"/api/orders", "application/json", strings.NewReader(`{"total":10}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/orders through Caddy: %d", resp.StatusCode)
	}
	testbed.Eventually(t, 15*time.Second, "stats count the inferred event", func() bool {
		return stats()["events"] == 1.0
	})
	a.Create(map[string]any{"url": receiver, "events": []string{"order.created"}})
	if st := stats(); st["subscriptions"] != 1.0 || st["active_subscriptions"] != 1.0 {
		t.Errorf("stats after a create: %v", st)
	}
}

// TestWrongMethodAndUnknownRoute checks the 405s (with Allow and a JSON
// error) and the 404s of unknown routes.
func TestWrongMethodAndUnknownRoute(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	id := testbed.Str(a.Create(map[string]any{"url": receiver, "events": []string{"order.created"}})["id"])

	for _, c := range []struct{ method, path, allow string }{
		{http.MethodDelete, "/webhooks/subscriptions", "GET, HEAD, POST"},
		{http.MethodPut, "/webhooks/subscriptions", "GET, HEAD, POST"},
		{http.MethodPost, "/webhooks/subscriptions/" + id, "GET, HEAD, PUT, PATCH, DELETE"},
		{http.MethodGet, "/webhooks/subscriptions/" + id + "/rotate-secret", "POST"},
		{http.MethodDelete, "/webhooks/subscriptions/" + id + "/rotate-secret", "POST"},
		{http.MethodPost, "/webhooks/events", "GET, HEAD"},
		{http.MethodPut, "/webhooks/events/available", "GET, HEAD"},
		{http.MethodDelete, "/webhooks/stats", "GET, HEAD"},
	} {
		r := a.Do(c.method, c.path, nil)
		msg, _ := a.APIError(r, http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if !strings.Contains(msg, c.method) {
			t.Errorf("%s %s: the message does not name the method: %q", c.method, c.path, msg)
		}
	}
	// The 405 did not touch the subscription.
	a.Get(id)

	for _, path := range []string{"/webhooks/nope", "/webhooks/subscriptions/" + id + "/nope", "/webhooks/events/nope", "/webhooks/subscriptions/"} {
		msg, _ := a.APIError(a.Do(http.MethodGet, path, nil), http.StatusNotFound)
		if !strings.Contains(msg, path) {
			t.Errorf("GET %s: the message does not name the path: %q", path, msg)
		}
	}
	// HEAD is served with GET.
	if r := a.Do(http.MethodHead, "/webhooks/subscriptions/"+id, nil); r.Status != http.StatusOK {
		t.Errorf("HEAD: %s", r)
	}
}

// TestNoWebhooksApp checks the 503 of a config without the webhooks app,
// and that the API follows reloads in and out of such configs.
func TestNoWebhooksApp(t *testing.T) {
	t.Parallel()
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", plainConfig(port))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}

	check503 := func() {
		t.Helper()
		for _, rq := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/webhooks/subscriptions", nil},
			{http.MethodGet, "/webhooks/subscriptions?is_active=true", nil},
			{http.MethodPost, "/webhooks/subscriptions", map[string]any{"url": receiver, "events": []string{"*"}}},
			{http.MethodGet, "/webhooks/subscriptions/sub_x", nil},
			{http.MethodPatch, "/webhooks/subscriptions/sub_x", map[string]any{}},
			{http.MethodDelete, "/webhooks/subscriptions/sub_x", nil},
			{http.MethodPost, "/webhooks/subscriptions/sub_x/rotate-secret", nil},
			{http.MethodGet, "/webhooks/events", nil},
			{http.MethodGet, "/webhooks/events/available", nil},
			{http.MethodGet, "/webhooks/stats", nil},
		} {
			msg, _ := a.APIError(a.Do(rq.method, rq.path, rq.body), http.StatusServiceUnavailable)
			if !strings.Contains(msg, "webhooks") {
				t.Errorf("%s %s: 503 message does not say what is missing: %q", rq.method, rq.path, msg)
			}
		}
		// Routing errors do not depend on the app.
		a.APIError(a.Do(http.MethodGet, "/webhooks/nope", nil), http.StatusNotFound)
		a.APIError(a.Do(http.MethodDelete, "/webhooks/stats", nil), http.StatusMethodNotAllowed)
	}
	check503()

	// The site itself works: the 503 is about the webhooks app only.
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("site: %d", resp.StatusCode)
	}

	// Reload into a config with the webhooks app: the API answers.
	e := &env{t: t, Caddy: c, API: a, upstream: testbed.OrdersApp(t).Listener.Addr().String(), rulesPath: testbed.WriteOrderRules(t)}
	// The new site's port was free a moment ago; another test process may
	// have bound it since, so a load that fails on it tries another port.
	for try := 0; ; try++ {
		e.sitePort = testbed.FreePort(t)
		status, body := e.Load(e.config(""))
		if status == http.StatusOK {
			break
		}
		if try == 2 || !strings.Contains(body, "address already in use") {
			t.Fatalf("reload: %d %s", status, body)
		}
	}
	testbed.Eventually(t, 15*time.Second, "the API answers after loading a webhooks config", func() bool {
		return a.Do(http.MethodGet, "/webhooks/subscriptions", nil).Status == http.StatusOK
	})
	id := testbed.Str(a.Create(map[string]any{"url": receiver, "events": []string{"order.created"}})["id"])

	// And back out: 503 again.
	e.reload(plainConfig(port))
	testbed.Eventually(t, 15*time.Second, "503 after loading a config without webhooks", func() bool {
		return a.Do(http.MethodGet, "/webhooks/subscriptions", nil).Status == http.StatusServiceUnavailable
	})
	check503()

	// The subscription was kept in the store meanwhile.
	e.reload(e.config(""))
	testbed.Eventually(t, 15*time.Second, "the API answers again", func() bool {
		return a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil).Status == http.StatusOK
	})
}

// TestListModules checks that the built Caddy has the admin module.
func TestListModules(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(testbed.CaddyBinary(t), "list-modules")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("caddy list-modules: %v\n%s", err, out)
	}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "admin.api.webhooks" {
			found = true
		}
	}
	if !found {
		t.Fatalf("caddy list-modules does not list admin.api.webhooks:\n%s", out)
	}
}
