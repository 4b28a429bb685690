package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestSecretHiding checks that the full secret is shown only by create
// (and rotate-secret, see TestRotateSecret), and that generated secrets
// have the whsec_ form whatever the scheme.
func TestSecretHiding(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API

	var secrets []string
	// Generated secrets: whsec_ + base64 of 32 bytes, for every scheme,
	// and a different one each time.
	seen := map[string]bool{}
	for _, scheme := range []string{"", "standard", "sha256", "hex"} {
		body := with(nil)
		if scheme != "" {
			body["signature"] = scheme
		}
		sub := a.Create(body)
		secret := testbed.Str(sub["secret"])
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != len(standardSecret(32)) {
			t.Errorf("scheme %q: generated secret %q is not whsec_ + base64 of 32 bytes", scheme, secret)
		}
		if seen[secret] {
			t.Errorf("the same secret was generated twice: %q", secret)
		}
		seen[secret] = true
		if _, ok := sub["secret_hint"]; ok {
			t.Errorf("create answer has a secret_hint beside the secret: %v", sub)
		}
		secrets = append(secrets, secret)
	}
	// Given secrets are kept as given and hidden the same way.
	given := map[string]string{"standard": standardSecret(32), "sha256": "sha256-shared-secret-0001", "hex": "hex-shared-secret-000000001"}
	for scheme, secret := range given {
		sub := a.Create(with(map[string]any{"signature": scheme, "secret": secret}))
		if sub["secret"] != secret {
			t.Errorf("scheme %s: given secret answered as %v", scheme, sub["secret"])
		}
		secrets = append(secrets, secret)
	}

	if n := len(a.ListSubs("")); n != len(secrets) {
		t.Fatalf("list has %d subscriptions, want %d", n, len(secrets))
	}

	// Nowhere else: list, get, PUT, PATCH, the ?is_active lists.
	r := a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions", nil), http.StatusOK)
	for _, q := range []string{"", "?is_active=true", "?is_active=false"} {
		r := a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions"+q, nil), http.StatusOK)
		for _, s := range secrets {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("list%s shows a full secret", q)
			}
		}
	}
	if strings.Contains(string(r.Body), `"secret"`) {
		t.Errorf("list has a secret field: %s", r.Body)
	}
	for i, sub := range r.List(t) {
		id := testbed.Str(sub["id"])
		secret := secretOf(t, a, id, secrets)
		noSecret(t, "list", sub, nil, secret)
		g := a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil)
		noSecret(t, "get", a.Expect(g, http.StatusOK).Object(t), g.Body, secret)
		m := http.MethodPatch
		if i%2 == 0 {
			m = http.MethodPut
		}
		u := a.Do(m, "/webhooks/subscriptions/"+id, map[string]any{"description": "seen"})
		noSecret(t, m, a.Expect(u, http.StatusOK).Object(t), u.Body, secret)
		// Changing the secret through an update does not echo it either.
		if i == 0 {
			newSecret := standardSecret(40)
			u := a.Do(http.MethodPatch, "/webhooks/subscriptions/"+id, map[string]any{"signature": "standard", "secret": newSecret})
			noSecret(t, "PATCH secret", a.Expect(u, http.StatusOK).Object(t), u.Body, newSecret)
			secrets = append(secrets, newSecret)
		}
	}

	secretsNotLogged(t, e.Caddy, secrets...)
}

// secretOf finds which of secrets belongs to subscription id, by its hint.
func secretOf(t *testing.T, a testbed.API, id string, secrets []string) string {
	t.Helper()
	hint := strings.TrimSuffix(testbed.Str(a.Get(id)["secret_hint"]), "…")
	var found string
	for _, s := range secrets {
		if hint != "" && strings.HasPrefix(s, hint) {
			if found != "" {
				t.Skipf("two secrets share the hint %q (a 1 in 16 million chance)", hint)
			}
			found = s
		}
	}
	if found == "" {
		t.Fatalf("subscription %s: hint %q matches no created secret", id, hint)
	}
	return found
}

// TestRotateSecret checks rotate-secret with and without a grace period,
// its errors, and that the new secret is hidden everywhere else.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	a := e.API
	sub := a.Create(with(map[string]any{"signature": "sha256", "secret": "the-first-shared-secret"}))
	id := testbed.Str(sub["id"])
	rotate := "/webhooks/subscriptions/" + id + "/rotate-secret"
	secrets := []string{testbed.Str(sub["secret"])}

	// Without a body: a new whsec_ secret, no grace period.
	r := a.Expect(a.Do(http.MethodPost, rotate, nil), http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("rotate-secret Cache-Control %q, want no-store", cc)
	}
	rot := r.Object(t)
	s1 := testbed.Str(rot["secret"])
	if !strings.HasPrefix(s1, "whsec_") || s1 == secrets[0] {
		t.Fatalf("rotated secret %q: want a new whsec_ secret", s1)
	}
	if _, ok := rot["previous_secret_expires_at"]; ok {
		t.Errorf("rotation without grace shows previous_secret_expires_at: %v", rot["previous_secret_expires_at"])
	}
	if rot["id"] != id || rot["signature"] != "sha256" || rot["url"] != receiver {
		t.Errorf("rotation changed other fields: %s", r)
	}
	secrets = append(secrets, s1)
	g := a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil)
	got := a.Expect(g, http.StatusOK).Object(t)
	noSecret(t, "get after rotate", got, g.Body, s1)
	if _, ok := got["previous_secret_expires_at"]; ok {
		t.Errorf("get after a rotation without grace shows previous_secret_expires_at")
	}

	// An empty object is the same.
	s2 := testbed.Str(a.Expect(a.Do(http.MethodPost, rotate, map[string]any{}), http.StatusOK).Object(t)["secret"])
	if s2 == s1 || !strings.HasPrefix(s2, "whsec_") {
		t.Fatalf("second rotation: %q after %q", s2, s1)
	}
	secrets = append(secrets, s2)

	// With a grace period of 24h: previous_secret_expires_at about 24h ahead.
	before := time.Now()
	rot = a.Expect(a.Do(http.MethodPost, rotate, map[string]any{"grace_period": "24h"}), http.StatusOK).Object(t)
	after := time.Now()
	s3 := testbed.Str(rot["secret"])
	if s3 == s2 || !strings.HasPrefix(s3, "whsec_") {
		t.Fatalf("rotation with grace: %q after %q", s3, s2)
	}
	secrets = append(secrets, s3)
	exp := parseTime(t, rot["previous_secret_expires_at"])
	if exp.Before(before.Add(24*time.Hour-time.Second)) || exp.After(after.Add(24*time.Hour+time.Second)) {
		t.Errorf("previous_secret_expires_at %v, want about %v", exp, before.Add(24*time.Hour))
	}
	g = a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil)
	got = a.Expect(g, http.StatusOK).Object(t)
	noSecret(t, "get after rotate with grace", got, g.Body, s3)
	if !parseTime(t, got["previous_secret_expires_at"]).Equal(exp) {
		t.Errorf("get shows previous_secret_expires_at %v, rotate said %v", got["previous_secret_expires_at"], exp)
	}
	for _, s := range secrets[:3] {
		if strings.Contains(string(g.Body), s) {
			t.Errorf("get shows an old secret")
		}
	}

	// Other durations are accepted; 0s ends the grace period at once.
	rot = a.Expect(a.Do(http.MethodPost, rotate, map[string]any{"grace_period": "90m"}), http.StatusOK).Object(t)
	secrets = append(secrets, testbed.Str(rot["secret"]))
	if exp := parseTime(t, rot["previous_secret_expires_at"]); time.Until(exp) < 89*time.Minute || time.Until(exp) > 91*time.Minute {
		t.Errorf("grace 90m: expires at %v", exp)
	}
	rot = a.Expect(a.Do(http.MethodPost, rotate, map[string]any{"grace_period": "0s"}), http.StatusOK).Object(t)
	secrets = append(secrets, testbed.Str(rot["secret"]))
	if _, ok := rot["previous_secret_expires_at"]; ok {
		t.Errorf("grace 0s shows previous_secret_expires_at")
	}

	// Bad grace periods and bodies: 400 naming the field, nothing rotated.
	hint := a.Get(id)["secret_hint"]
	for _, body := range []any{
		map[string]any{"grace_period": "tomorrow"},
		map[string]any{"grace_period": "24"},
		map[string]any{"grace_period": "-1h"},
		map[string]any{"grace_period": "10000h"},
		map[string]any{"grace_period": ""},
		map[string]any{"grace_period": 24},
		map[string]any{"grace_period": nil},
	} {
		a.FieldError(a.Do(http.MethodPost, rotate, body), "grace_period")
	}
	a.FieldError(a.Do(http.MethodPost, rotate, map[string]any{"grace": "24h"}), "grace")
	a.FieldError(a.Do(http.MethodPost, rotate, map[string]any{"secret": standardSecret(32)}), "secret")
	a.APIError(a.Do(http.MethodPost, rotate, `["24h"]`), http.StatusBadRequest)
	if h := a.Get(id)["secret_hint"]; h != hint {
		t.Errorf("a refused rotation changed the secret: hint %v -> %v", hint, h)
	}

	// Rotations are the only answers with the secret; none of them is logged.
	l := a.Do(http.MethodGet, "/webhooks/subscriptions", nil)
	for _, s := range secrets {
		if strings.Contains(string(l.Body), s) {
			t.Errorf("list shows a secret")
		}
	}
	secretsNotLogged(t, e.Caddy, secrets...)
}
