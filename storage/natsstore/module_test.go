package natsstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/zapcore"
)

// provisioned returns b provisioned, or fails the test.
func provisioned(t *testing.T, b Backend) *Backend {
	t.Helper()
	if err := b.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestValidate: defaults, and each bad setting refused with its message.
func TestValidate(t *testing.T) {
	t.Setenv("NATS_TEST_PASSWORD", "s3cret")
	ok := provisioned(t, Backend{URL: " nats://a:4222, tls://b:4222 ,", User: "me", Password: "{env.NATS_TEST_PASSWORD}"})
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if c := ok.cfg; strings.Join(c.urls, " ") != "nats://a:4222 tls://b:4222" || c.prefix != "webhooks" || c.replicas != 3 || c.pass != "s3cret" {
		t.Errorf("provisioned %+v, want two urls, prefix webhooks, replicas 3, the password from the environment", c)
	}
	cases := []struct {
		name string
		b    Backend
		want string
	}{
		{"no url", Backend{}, "url is required"},
		{"bad scheme", Backend{URL: "http://a:4222"}, `url "http://a:4222" is not like nats://host:4222`},
		{"no host", Backend{URL: "nats://"}, "is not like nats://host:4222"},
		{"password redacted", Backend{URL: "nats://me:pw@:4222"}, `url "nats://:4222" is not like`},
		{"two auth", Backend{URL: "nats://a", Token: "t", Credentials: "c"}, "only one of credentials, nkey, user, token"},
		{"password alone", Backend{URL: "nats://a", Password: "p"}, "password without user"},
		{"user alone", Backend{URL: "nats://a", User: "me"}, "user me has no password"},
		{"cert without key", Backend{URL: "nats://a", TLS: &TLS{Cert: "c"}}, "tls needs both cert and key"},
		{"bad prefix", Backend{URL: "nats://a", Prefix: "a.b"}, `prefix "a.b" may hold only`},
		{"replicas", Backend{URL: "nats://a", Replicas: 6}, "replicas 6 is not between 1 and 5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := provisioned(t, tc.b).Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPoolKeyAndCompatible: configs naming the same servers (in any
// order) and prefix share a store; one that would connect or replicate
// differently cannot adopt it; the log fields carry no password.
func TestPoolKeyAndCompatible(t *testing.T) {
	a := provisioned(t, Backend{URL: "nats://a:4222,nats://b:4222", Token: "t"})
	b := provisioned(t, Backend{URL: "nats://b:4222,nats://a:4222", Token: "t"})
	if a.PoolKey() != b.PoolKey() {
		t.Errorf("pool keys %q and %q differ for the same servers", a.PoolKey(), b.PoolKey())
	}
	if c := provisioned(t, Backend{URL: a.URL, Prefix: "other"}); c.PoolKey() == a.PoolKey() {
		t.Errorf("another prefix shares the pool key %q", a.PoolKey())
	}
	if err := b.compatible(a); err != nil {
		t.Errorf("same settings: %v", err)
	}
	cases := map[string]struct {
		b    Backend
		want string
	}{
		"replicas": {Backend{URL: a.URL, Token: "t", Replicas: 1}, "open with replicas 3"},
		"token":    {Backend{URL: a.URL, Token: "u"}, "other credentials or TLS settings"},
		"tls":      {Backend{URL: a.URL, Token: "t", TLS: &TLS{CA: "ca.pem"}}, "other credentials or TLS settings"},
	}
	for name, tc := range cases {
		if err := provisioned(t, tc.b).compatible(a); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Compatible = %v, want an error containing %q", name, err, tc.want)
		}
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range provisioned(t, Backend{URL: "nats://me:pw@a:4222"}).Describe() {
		f.AddTo(enc)
	}
	if got := fmt.Sprint(enc.Fields["nats_url"]); !strings.Contains(got, "nats://a:4222") || strings.Contains(got, "pw") {
		t.Errorf("Describe nats_url = %v, want the URL without its password", got)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }
