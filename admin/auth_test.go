package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
)

// authReceiver records the Authorization header of each request.
type authReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newAuthReceiver(t *testing.T) *authReceiver {
	r := &authReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, req.Header.Get("Authorization"))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *authReceiver) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return ""
	}
	return r.got[len(r.got)-1]
}

// sendTest runs the test route of id and returns its answer.
func sendTest(t *testing.T, a testbed.API, id string) map[string]any {
	t.Helper()
	return a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/"+id+"/test", nil), http.StatusOK).Object(t)
}

// TestCredentialsWriteOnly: auth's secrets and tls's key are taken, used
// by deliveries, kept by edits that leave them out, and never shown nor
// logged: the API says only that they are set.
func TestCredentialsWriteOnly(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "allow_private_targets")
	a := e.API
	rcv := newAuthReceiver(t)
	const password, token = "basic-password-7f3a", "bearer-token-91c2e" //nolint:gosec // G101: test values
	ca := testpki.NewCA(t, "receiver CA")
	client := ca.Client(t, "caddy", time.Now().Add(time.Hour))
	// The API keeps certificates without the spaces around them.
	certPEM, caPEM := strings.TrimSpace(client.CertPEM), strings.TrimSpace(ca.PEM)

	sub := a.Create(with(map[string]any{
		"url":  rcv.srv.URL,
		"auth": map[string]any{"type": "basic", "username": "caddy", "password": password},
	}))
	id := testbed.Str(sub["id"])
	wantAuth := map[string]any{"type": "basic", "username": "caddy", "password_set": true}
	if got := sub["auth"]; !equalJSON(got, wantAuth) {
		t.Errorf("create answered auth %v, want %v", got, wantAuth)
	}
	if r := sendTest(t, a, id); r["success"] != true || rcv.last() != "Basic Y2FkZHk6YmFzaWMtcGFzc3dvcmQtN2YzYQ==" {
		t.Fatalf("test delivery: %v, Authorization %q", r, rcv.last())
	}

	// An edit that leaves the password out keeps it; the view says it is set.
	got := a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"auth": map[string]any{"username": "caddy2"}}), http.StatusOK).Object(t)
	if !equalJSON(got["auth"], map[string]any{"type": "basic", "username": "caddy2", "password_set": true}) {
		t.Errorf("after the edit: auth %v", got["auth"])
	}
	sendTest(t, a, id)
	if rcv.last() != "Basic Y2FkZHkyOmJhc2ljLXBhc3N3b3JkLTdmM2E=" {
		t.Errorf("after the edit, Authorization %q: the password was not kept", rcv.last())
	}

	// A change of type starts afresh; tls on an https:// target.
	got = a.Expect(a.Do(http.MethodPut, "/webhooks/subscriptions/"+id, map[string]any{
		"url":  "https://receiver.example.com/hooks",
		"auth": map[string]any{"type": "bearer", "token": token},
		"tls":  map[string]any{"client_certificate": client.CertPEM, "client_key": client.KeyPEM, "ca": ca.PEM},
	}), http.StatusOK).Object(t)
	if !equalJSON(got["auth"], map[string]any{"type": "bearer", "token_set": true}) ||
		!equalJSON(got["tls"], map[string]any{"client_certificate": certPEM, "client_key_set": true, "ca": caPEM}) {
		t.Errorf("after PUT: auth %v, tls %v", got["auth"], got["tls"])
	}
	// tls without the key keeps it; null removes auth.
	got = a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{
		"auth": nil, "tls": map[string]any{"client_certificate": client.CertPEM},
	}), http.StatusOK).Object(t)
	if got["auth"] != nil || !equalJSON(got["tls"], map[string]any{"client_certificate": certPEM, "client_key_set": true, "ca": caPEM}) {
		t.Errorf("after removing auth: auth %v, tls %v", got["auth"], got["tls"])
	}
	// Removing the certificate removes its key.
	got = a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"tls": map[string]any{"client_certificate": ""}}), http.StatusOK).Object(t)
	if !equalJSON(got["tls"], map[string]any{"ca": caPEM}) {
		t.Errorf("after removing the certificate: tls %v", got["tls"])
	}

	key := strings.TrimSpace(strings.Split(client.KeyPEM, "\n")[1])
	for _, path := range []string{"/webhooks/subscriptions", "/webhooks/subscriptions/" + id} {
		body := string(a.Expect(a.Do(http.MethodGet, path, nil), http.StatusOK).Body)
		for _, s := range []string{password, token, key, `"password"`, `"token"`, `"client_key"`} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows %s: %s", path, s, body)
			}
		}
	}
	secretsNotLogged(t, e.Caddy, password, token, key)
}

// TestCredentialsValidation: bad auth or tls is a 400 naming the field,
// and changes nothing.
func TestCredentialsValidation(t *testing.T) { //nolint:tparallel // the subtests share one Caddy and the target subscription, checked after them
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	ca := testpki.NewCA(t, "receiver CA")
	client := ca.Client(t, "caddy", time.Now().Add(time.Hour))
	other := ca.Client(t, "other", time.Now().Add(time.Hour))
	target := a.Create(with(map[string]any{"auth": map[string]any{"type": "bearer", "token": "t0k3n"}}))
	id := testbed.Str(target["id"])
	oauth := func(k string, v any) map[string]any {
		m := map[string]any{"type": "oauth2_client_credentials", "token_url": "https://idp.example/token", "client_id": "id", "client_secret": "cs"}
		m[k] = v
		return map[string]any{"auth": m}
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"auth not an object", map[string]any{"auth": "bearer x"}, "auth"},
		{"tls not an object", map[string]any{"tls": []string{"x"}}, "tls"},
		{"unknown type", map[string]any{"auth": map[string]any{"type": "digest"}}, "auth.type"},
		{"unknown auth field", map[string]any{"auth": map[string]any{"type": "bearer", "token": "t", "realm": "x"}}, "auth.realm"},
		{"read-only token_set", map[string]any{"auth": map[string]any{"type": "bearer", "token_set": true}}, "auth.token_set"},
		{"token not a string", map[string]any{"auth": map[string]any{"type": "bearer", "token": 5}}, "auth.token"},
		{"bearer empty token", map[string]any{"auth": map[string]any{"type": "bearer", "token": ""}}, "auth.token"},
		{"basic without username", map[string]any{"auth": map[string]any{"type": "basic", "password": "p"}}, "auth.username"},
		{"oauth2 bad token_url", oauth("token_url", "idp.example/token"), "auth.token_url"},
		{"oauth2 scopes not a list", oauth("scopes", "a b"), "auth.scopes"},
		{"oauth2 scope with a space", oauth("scopes", []string{"a b"}), "auth.scopes"},
		{"oauth2 no client_secret", oauth("client_secret", ""), "auth.client_secret"},
		{"unknown tls field", map[string]any{"tls": map[string]any{"cert": "x"}}, "tls.cert"},
		{"certificate not PEM", map[string]any{"tls": map[string]any{"client_certificate": "x", "client_key": client.KeyPEM}}, "tls.client_certificate"},
		{"key of another certificate", map[string]any{"tls": map[string]any{"client_certificate": client.CertPEM, "client_key": other.KeyPEM}}, "tls.client_key"},
		{"certificate without key", map[string]any{"tls": map[string]any{"client_certificate": client.CertPEM}}, "tls.client_key"},
		{"ca not PEM", map[string]any{"tls": map[string]any{"ca": "x"}}, "tls.ca"},
		{"tls to http", map[string]any{"url": "http://receiver.example.com/", "tls": map[string]any{"ca": ca.PEM}}, "tls"},
		{"Authorization header too", map[string]any{"headers": map[string]string{"Authorization": "Bearer x"}, "auth": map[string]any{"type": "bearer", "token": "t"}}, "headers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := a
			a.T = t // FieldError fails the subtest
			a.FieldError(a.Do(http.MethodPost, "/webhooks/subscriptions", merge(with(nil), c.body)), c.field)
			a.FieldError(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, c.body), c.field)
		})
	}
	if got := a.Get(id)["auth"]; !equalJSON(got, map[string]any{"type": "bearer", "token_set": true}) {
		t.Errorf("the refused changes changed auth: %v", got)
	}
}

// equalJSON compares a decoded JSON value with want, as JSON.
func equalJSON(got any, want map[string]any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return string(g) == string(w)
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}
