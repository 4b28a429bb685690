package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// standardSecret returns a Standard Webhooks secret of n key bytes, whose
// start differs with n.
func standardSecret(n int) string {
	key := make([]byte, n)
	for i := range key {
		key[i] = byte(n*37 + i*11)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// with returns a valid create body with fields replaced; a nil value
// removes the field.
func with(fields map[string]any) map[string]any {
	b := map[string]any{"url": receiver, "events": []string{"order.created"}}
	for k, v := range fields {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

// TestValidation checks every validation rule of a subscription: each bad
// value is a 400 {"error", "fields"} naming the field, on create, and on
// PATCH and PUT without changing the stored subscription; each good value
// is accepted.
func TestValidation(t *testing.T) { //nolint:tparallel // the subtests share one Caddy and the target subscription: they run in order
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	target := a.Create(with(nil))
	targetID := testbed.Str(target["id"])

	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"url missing", with(map[string]any{"url": nil}), "url"},
		{"url empty", with(map[string]any{"url": ""}), "url"},
		{"url not http", with(map[string]any{"url": "ftp://files.example.com/in"}), "url"},
		{"url javascript", with(map[string]any{"url": "javascript:alert(1)"}), "url"},
		{"url relative", with(map[string]any{"url": "/hooks/in"}), "url"},
		{"url no scheme", with(map[string]any{"url": "receiver.example.com/hooks"}), "url"},
		{"url no host", with(map[string]any{"url": "https:///hooks"}), "url"},
		{"url credentials", with(map[string]any{"url": "https://user:pw@receiver.example.com/hooks"}), "url"},
		{"url user only", with(map[string]any{"url": "https://user@receiver.example.com/hooks"}), "url"},
		{"url fragment", with(map[string]any{"url": "https://receiver.example.com/hooks#part"}), "url"},
		{"url not a string", with(map[string]any{"url": 42}), "url"},
		{"url port 0", with(map[string]any{"url": "https://receiver.example.com:0/hooks"}), "url"},
		{"url port 65536", with(map[string]any{"url": "https://receiver.example.com:65536/hooks"}), "url"},
		{"url port 99999", with(map[string]any{"url": "http://receiver.example.com:99999/"}), "url"},
		{"events missing", with(map[string]any{"events": nil}), "events"},
		{"events empty", with(map[string]any{"events": []string{}}), "events"},
		{"events unknown name", with(map[string]any{"events": []string{"order.created", "order.refunded"}}), "events"},
		{"events bad pattern", with(map[string]any{"events": []string{"order.*.x"}}), "events"},
		{"events leading star", with(map[string]any{"events": []string{"*.created"}}), "events"},
		{"events glued star", with(map[string]any{"events": []string{"order*"}}), "events"},
		{"events empty name", with(map[string]any{"events": []string{""}}), "events"},
		{"events spaces", with(map[string]any{"events": []string{"order created"}}), "events"},
		{"events not an array", with(map[string]any{"events": "order.created"}), "events"},
		{"signature unknown", with(map[string]any{"signature": "md5"}), "signature"},
		{"signature empty", with(map[string]any{"signature": ""}), "signature"},
		{"signature case", with(map[string]any{"signature": "SHA256"}), "signature"},
		{"standard secret no prefix", with(map[string]any{"secret": base64.StdEncoding.EncodeToString(make([]byte, 32))}), "secret"},
		{"standard secret not base64", with(map[string]any{"secret": "whsec_not*base64*at*all*here*xxxxxxxxxxxx"}), "secret"},
		{"standard secret too short", with(map[string]any{"secret": standardSecret(23)}), "secret"},
		{"standard secret too long", with(map[string]any{"secret": standardSecret(65)}), "secret"},
		{"standard secret plain", with(map[string]any{"secret": "a-long-enough-plain-secret"}), "secret"},
		{"sha256 secret short", with(map[string]any{"signature": "sha256", "secret": "fifteen-chars!!"}), "secret"},
		{"hex secret short", with(map[string]any{"signature": "hex", "secret": "short"}), "secret"},
		{"rate_limit words", with(map[string]any{"rate_limit": "100 per minute"}), "rate_limit"},
		{"rate_limit unit", with(map[string]any{"rate_limit": "100/d"}), "rate_limit"},
		{"rate_limit zero", with(map[string]any{"rate_limit": "0/m"}), "rate_limit"},
		{"rate_limit no count", with(map[string]any{"rate_limit": "/m"}), "rate_limit"},
		{"rate_limit number", with(map[string]any{"rate_limit": 100}), "rate_limit"},
		{"header signature", with(map[string]any{"headers": map[string]string{"X-Webhook-Signature": "forged"}}), "headers"},
		{"header signature lower", with(map[string]any{"headers": map[string]string{"x-webhook-signature": "forged"}}), "headers"},
		{"header content type", with(map[string]any{"headers": map[string]string{"Content-Type": "text/plain"}}), "headers"},
		{"header webhook-id", with(map[string]any{"headers": map[string]string{"webhook-id": "msg_1"}}), "headers"},
		{"header webhook-signature", with(map[string]any{"headers": map[string]string{"Webhook-Signature": "v1,x"}}), "headers"},
		{"header x-webhook-event", with(map[string]any{"headers": map[string]string{"X-Webhook-Event": "x"}}), "headers"},
		{"header user-agent", with(map[string]any{"headers": map[string]string{"User-Agent": "x"}}), "headers"},
		{"header host", with(map[string]any{"headers": map[string]string{"Host": "evil.example.com"}}), "headers"},
		{"header bad name", with(map[string]any{"headers": map[string]string{"Bad Header": "x"}}), "headers"},
		{"header content-encoding", with(map[string]any{"headers": map[string]string{"Content-Encoding": "gzip"}}), "headers"},
		{"header transfer-encoding", with(map[string]any{"headers": map[string]string{"transfer-encoding": "chunked"}}), "headers"},
		{"header content-length", with(map[string]any{"headers": map[string]string{"Content-Length": "1"}}), "headers"},
		{"header expect", with(map[string]any{"headers": map[string]string{"Expect": "100-continue"}}), "headers"},
		{"header connection", with(map[string]any{"headers": map[string]string{"CONNECTION": "close"}}), "headers"},
		{"header proxy-authorization", with(map[string]any{"headers": map[string]string{"Proxy-Authorization": "Basic eDp5"}}), "headers"},
		{"header proxy-anything", with(map[string]any{"headers": map[string]string{"proxy-foo": "x"}}), "headers"},
		{"header upgrade", with(map[string]any{"headers": map[string]string{"Upgrade": "websocket"}}), "headers"},
		{"header te", with(map[string]any{"headers": map[string]string{"TE": "trailers"}}), "headers"},
		{"ordered not a bool", with(map[string]any{"ordered": "yes"}), "ordered"},
		{"header trailer", with(map[string]any{"headers": map[string]string{"Trailer": "X-A"}}), "headers"},
		{"header webhook-timestamp", with(map[string]any{"headers": map[string]string{"WEBHOOK-TIMESTAMP": "1"}}), "headers"},
		{"header x-webhook-attempt", with(map[string]any{"headers": map[string]string{"x-webhook-attempt": "1"}}), "headers"},
		{"headers too many", with(map[string]any{"headers": manyHeaders(33, 1)}), "headers"},
		{"header name too long", with(map[string]any{"headers": map[string]string{"X-" + strings.Repeat("n", 255): "x"}}), "headers"},
		{"header value too long", with(map[string]any{"headers": map[string]string{"X-A": strings.Repeat("v", 4097)}}), "headers"},
		{"headers too big together", with(map[string]any{"headers": manyHeaders(5, 4000)}), "headers"},
		{"headers not strings", with(map[string]any{"headers": map[string]any{"X-Count": 1}}), "headers"},
		{"is_active not bool", with(map[string]any{"is_active": "yes"}), "is_active"},
		{"filters unknown key", with(map[string]any{"filters": map[string]any{"sites": []string{"a"}}}), "filters"},
		{"filters key case", with(map[string]any{"filters": map[string]any{"SITE_IDS": []string{"a"}}}), "filters"},
		{"filters key in two cases", with(map[string]any{"filters": map[string]any{"site_ids": []string{"a"}, "Site_Ids": []string{"b"}}}), "filters"},
		{"filters not an object", with(map[string]any{"filters": []string{"a"}}), "filters"},
		{"filters empty site", with(map[string]any{"filters": map[string]any{"site_ids": []string{""}}}), "filters.site_ids"},
		{"description too long", with(map[string]any{"description": strings.Repeat("d", 2001)}), "description"},
		{"app_name too long", with(map[string]any{"app_name": strings.Repeat("a", 201)}), "app_name"},
		{"unknown field", with(map[string]any{"callback": receiver}), "callback"},
		{"unknown field case", with(map[string]any{"URL": receiver}), "URL"},
		{"read-only id", with(map[string]any{"id": "sub_mine"}), "id"},
		{"read-only stats", with(map[string]any{"stats": map[string]any{"total_sent": 5}}), "stats"},
		{"read-only created_at", with(map[string]any{"created_at": "2020-01-01T00:00:00Z"}), "created_at"},
		{"read-only updated_at", with(map[string]any{"updated_at": "2020-01-01T00:00:00Z"}), "updated_at"},
		{"read-only secret_hint", with(map[string]any{"secret_hint": "whsec_abcd…"}), "secret_hint"},
		{"read-only disabled_reason", with(map[string]any{"disabled_reason": "x"}), "disabled_reason"},
		{"read-only managed_by", with(map[string]any{"managed_by": "config"}), "managed_by"},
		{"read-only previous_secret_expires_at", with(map[string]any{"previous_secret_expires_at": "2030-01-01T00:00:00Z"}), "previous_secret_expires_at"},
	}
	for _, c := range bad {
		t.Run("create/"+c.name, func(t *testing.T) {
			a := testbed.API{T: t, Base: a.Base}
			a.FieldError(a.Do(http.MethodPost, "/webhooks/subscriptions", c.body), c.field)
		})
	}
	// The same fields are checked on update, where the bad value alone is
	// sent; the subscription is left as it was.
	for _, c := range bad {
		if _, given := c.body[c.field]; !given || (c.field == "secret" && c.body["signature"] != nil) {
			continue // "missing" cases and scheme-dependent secrets are create-only
		}
		for _, method := range []string{http.MethodPatch, http.MethodPut} {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				a := testbed.API{T: t, Base: a.Base}
				a.FieldError(a.Do(method, "/webhooks/subscriptions/"+targetID, map[string]any{c.field: c.body[c.field]}), c.field)
			})
		}
	}
	// Several bad fields are all reported.
	t.Run("several fields", func(t *testing.T) {
		a := testbed.API{T: t, Base: a.Base}
		_, fields := a.APIError(a.Do(http.MethodPost, "/webhooks/subscriptions", map[string]any{
			"url": "ftp://x", "events": []string{}, "signature": "md5", "rate_limit": "fast",
		}), http.StatusBadRequest)
		for _, f := range []string{"url", "events", "signature", "rate_limit"} {
			if fields[f] == "" {
				t.Errorf("no error for %s: %v", f, fields)
			}
		}
	})
	got := a.Get(targetID)
	noSecret(t, "get", got, nil, testbed.Str(target["secret"]))
	delete(target, "secret")
	target["secret_hint"] = got["secret_hint"]
	if !reflect.DeepEqual(got, target) {
		t.Errorf("failed updates changed the subscription:\n got %v\nwant %v", got, target)
	}
	if l := a.ListSubs(""); len(l) != 1 {
		t.Errorf("failed creates stored subscriptions: %v", ids(l))
	}

	good := []struct {
		name  string
		body  map[string]any
		check func(t *testing.T, sub map[string]any)
	}{
		{"http url", with(map[string]any{"url": "http://receiver.example.com:8080/in?token=abc"}), nil},
		{"https url", with(nil), nil},
		{"pattern", with(map[string]any{"events": []string{"order.*"}}), nil},
		{"star", with(map[string]any{"events": []string{"*"}}), nil},
		{"webhook.test", with(map[string]any{"events": []string{"webhook.test"}}), nil},
		{"every known event", with(map[string]any{"events": []string{"order.created", "order.paid", "customer.created"}}), nil},
		{"duplicates merged", with(map[string]any{"events": []string{"order.paid", "order.paid", "customer.*"}}), func(t *testing.T, sub map[string]any) {
			if got := testbed.Strs(sub["events"]); !reflect.DeepEqual(got, []string{"order.paid", "customer.*"}) {
				t.Errorf("events %v", got)
			}
		}},
		{"standard explicit", with(map[string]any{"signature": "standard"}), nil},
		{"standard secret 24 bytes", with(map[string]any{"secret": standardSecret(24)}), nil},
		{"standard secret 64 bytes", with(map[string]any{"secret": standardSecret(64)}), nil},
		{"standard secret unpadded", with(map[string]any{"secret": strings.TrimRight(standardSecret(25), "=")}), nil},
		{"sha256 secret 16 chars", with(map[string]any{"signature": "sha256", "secret": "0123456789abcdef"}), nil},
		{"hex secret", with(map[string]any{"signature": "hex", "secret": "a-legacy-shared-secret"}), nil},
		{"sha256 whsec secret", with(map[string]any{"signature": "sha256", "secret": standardSecret(32)}), nil},
		{"rate_limit per second", with(map[string]any{"rate_limit": "5/s"}), nil},
		{"rate_limit per minute", with(map[string]any{"rate_limit": "100/m"}), nil},
		{"rate_limit per hour", with(map[string]any{"rate_limit": "1000/h"}), nil},
		{"custom headers", with(map[string]any{"headers": map[string]string{"X-Custom": "1", "Authorization": "Bearer t"}}), nil},
		{"32 headers", with(map[string]any{"headers": manyHeaders(32, 1)}), nil},
		{"url port 65535", with(map[string]any{"url": "https://receiver.example.com:65535/hooks"}), nil},
		{"filters", with(map[string]any{"filters": map[string]any{"site_ids": []string{"a", "b"}}}), nil},
		{"ordered", with(map[string]any{"ordered": true}), func(t *testing.T, sub map[string]any) {
			if sub["ordered"] != true {
				t.Errorf("ordered %v", sub["ordered"])
			}
		}},
		{"app_name", with(map[string]any{"app_name": "swigs-workflow"}), func(t *testing.T, sub map[string]any) {
			if sub["app_name"] != "swigs-workflow" {
				t.Errorf("app_name %v", sub["app_name"])
			}
		}},
		// An empty secret, as a form with the field left blank sends it,
		// is a secret not given: one is generated.
		{"empty secret generated", with(map[string]any{"signature": "sha256", "secret": ""}), func(t *testing.T, sub map[string]any) {
			if s := testbed.Str(sub["secret"]); !strings.HasPrefix(s, "whsec_") {
				t.Errorf("secret %q", s)
			}
		}},
		{"paused", with(map[string]any{"is_active": false}), func(t *testing.T, sub map[string]any) {
			if sub["is_active"] != false {
				t.Errorf("is_active %v", sub["is_active"])
			}
		}},
	}
	for _, c := range good {
		t.Run("accept/"+c.name, func(t *testing.T) {
			a := testbed.API{T: t, Base: a.Base}
			sub := a.Create(c.body)
			for k, v := range c.body {
				if k == "events" || k == "secret" || c.check != nil {
					continue
				}
				if want := jsonValue(t, v); !reflect.DeepEqual(sub[k], want) {
					t.Errorf("%s = %#v, want %#v", k, sub[k], want)
				}
			}
			if s, ok := c.body["secret"]; ok && s != "" && sub["secret"] != s {
				t.Errorf("the given secret was not kept: %v", sub["secret"])
			}
			if c.check != nil {
				c.check(t, sub)
			}
		})
	}

	// A legacy secret stays valid while the scheme stays legacy; switching
	// to standard then needs a standard secret too.
	t.Run("scheme and secret together", func(t *testing.T) {
		a := testbed.API{T: t, Base: a.Base}
		id := testbed.Str(a.Create(with(map[string]any{"signature": "hex", "secret": "a-legacy-shared-secret"}))["id"])
		a.FieldError(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"signature": "standard"}), "secret")
		a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"signature": "sha256"}), http.StatusOK)
		r := a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"signature": "standard", "secret": standardSecret(32)}), http.StatusOK)
		if o := r.Object(t); o["signature"] != "standard" {
			t.Errorf("signature %v", o["signature"])
		}
	})
}

// manyHeaders returns n custom headers with values of size bytes.
func manyHeaders(n, size int) map[string]string {
	h := map[string]string{}
	for i := range n {
		h[fmt.Sprintf("X-H%d", i)] = strings.Repeat("v", size)
	}
	return h
}

// jsonValue returns v as it reads back from JSON.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBadBodies checks bodies that are not a JSON object, or too large.
func TestBadBodies(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	id := testbed.Str(a.Create(with(nil))["id"])

	for _, body := range []string{`[]`, `[{"url":"https://x.example.com"}]`, `"text"`, `42`, `null`, `true`, `{`, `{"url":}`, `not json`, `{"url":"https://x.example.com"} trailing`} {
		for _, rq := range []struct{ method, path string }{
			{http.MethodPost, "/webhooks/subscriptions"},
			{http.MethodPut, "/webhooks/subscriptions/" + id},
			{http.MethodPatch, "/webhooks/subscriptions/" + id},
			{http.MethodPost, "/webhooks/subscriptions/" + id + "/rotate-secret"},
		} {
			msg, _ := a.APIError(a.Do(rq.method, rq.path, body), http.StatusBadRequest)
			if !strings.Contains(msg, "JSON object") {
				t.Errorf("%s %s %q: message %q does not say a JSON object is wanted", rq.method, rq.path, body, msg)
			}
		}
	}

	// A key given twice, at any depth, is a 400 naming the key and its
	// field; so is a body nested too deep (naming its field when it has one).
	nest := func(n int, v string) string { return strings.Repeat("[", n) + v + strings.Repeat("]", n) }
	for _, c := range []struct{ body, field, msg string }{
		{`{"url": "https://a.example.com/in", "url": "https://b.example.com/in", "events": ["order.created"]}`, "url", `request body has the key "url" more than once`},
		{`{"events": ["order.created"], "headers": {"X-A": "1", "X-B": "2", "X-A": "3"}}`, "headers", `the key "X-A" appears more than once in headers`},
		{`{"filters": {"site_ids": ["a"], "site_ids": ["b"]}}`, "filters", `the key "site_ids" appears more than once in filters`},
		{`{"description": "x", "filters": {"site_ids": ` + nest(40, `"a"`) + `}}`, "filters", "nested too deep"},
		{nest(33, ""), "", "nested too deep"},
		{nest(20000, ""), "", "nested too deep"},
	} {
		for _, rq := range []struct{ method, path string }{
			{http.MethodPost, "/webhooks/subscriptions"},
			{http.MethodPut, "/webhooks/subscriptions/" + id},
			{http.MethodPatch, "/webhooks/subscriptions/" + id},
		} {
			msg, fields := a.APIError(a.Do(rq.method, rq.path, c.body), http.StatusBadRequest)
			if !strings.Contains(msg, c.msg) {
				t.Errorf("%s %s %.60s: message %q, want one containing %q", rq.method, rq.path, c.body, msg, c.msg)
			}
			if c.field != "" && fields[c.field] == "" {
				t.Errorf("%s %s %.60s: no error on %s: %v", rq.method, rq.path, c.body, c.field, fields)
			}
		}
	}
	a.FieldError(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/rotate-secret", `{"grace_period": "1h", "grace_period": "720h"}`), "grace_period")

	// Over 1 MiB: 400, and the API still answers afterwards.
	big := `{"description":"` + strings.Repeat("x", 1<<20) + `","url":"` + receiver + `","events":["order.created"]}`
	for _, rq := range []struct{ method, path string }{
		{http.MethodPost, "/webhooks/subscriptions"},
		{http.MethodPatch, "/webhooks/subscriptions/" + id},
	} {
		msg, _ := a.APIError(a.Do(rq.method, rq.path, big), http.StatusBadRequest)
		if !strings.Contains(msg, "larger") {
			t.Errorf("%s %s over 1 MiB: message %q does not say it is too large", rq.method, rq.path, msg)
		}
	}
	// Just under the limit is read (and then refused for its description).
	under := `{"description":"` + strings.Repeat("x", 1<<20-100) + `"}`
	a.FieldError(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, under), "description")

	if l := a.ListSubs(""); !reflect.DeepEqual(ids(l), []string{id}) {
		t.Errorf("bad bodies stored something: %v", ids(l))
	}
	if g := a.Get(id); g["description"] != "" {
		t.Errorf("bad bodies changed the subscription: %v", g["description"])
	}
	// An empty body is an empty object: a no-op update.
	a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, ""), http.StatusOK)
	// and a create with nothing in it names the required fields.
	_, fields := a.APIError(a.Do(http.MethodPost, "/webhooks/subscriptions", ""), http.StatusBadRequest)
	if fields["url"] == "" || fields["events"] == "" {
		t.Errorf("empty create: want errors on url and events, got %v", fields)
	}
}
