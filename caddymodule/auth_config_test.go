package caddymodule_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
)

// TestCaddyfileAuthErrors: a bad auth or tls block of a subscription is
// refused when the Caddyfile is adapted, naming the problem.
func TestCaddyfileAuthErrors(t *testing.T) {
	t.Parallel()
	block := func(lines string) string {
		return "{\n\twebhooks {\n\t\tsubscription a {\n\t\t\turl https://x.example/\n" + lines + "\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n"
	}
	cases := map[string]struct{ cfg, want string }{
		"auth without type":   {block("\t\t\tauth {\n\t\t\t\ttoken x\n\t\t\t}"), "auth takes a type"},
		"auth unknown option": {block("\t\t\tauth bearer {\n\t\t\t\tsecret x\n\t\t\t}"), `unrecognized auth option "secret"`},
		"auth two values":     {block("\t\t\tauth basic {\n\t\t\t\tusername a b\n\t\t\t}"), "auth username takes one argument"},
		"auth no scopes":      {block("\t\t\tauth oauth2_client_credentials {\n\t\t\t\tscopes\n\t\t\t}"), "wrong argument count"},
		"auth twice":          {block("\t\t\tauth bearer {\n\t\t\t\ttoken x\n\t\t\t}\n\t\t\tauth bearer {\n\t\t\t\ttoken y\n\t\t\t}"), "subscription auth given twice"},
		"tls argument":        {block("\t\t\ttls /etc/cert.pem"), "wrong argument count"},
		"tls unknown option":  {block("\t\t\ttls {\n\t\t\t\tcert /x\n\t\t\t}"), `unrecognized tls option "cert"`},
		"tls twice":           {block("\t\t\ttls {\n\t\t\t\tca /x\n\t\t\t}\n\t\t\ttls {\n\t\t\t\tca /y\n\t\t\t}"), "subscription tls given twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := caddyconfigAdapt(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
}

// TestValidateSubscriptionCredentials: `caddy validate` reads a config
// subscription's tls files and checks its auth as the admin API does,
// naming the subscription and the field.
func TestValidateSubscriptionCredentials(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "receiver CA")
	client := ca.Client(t, "caddy", time.Now().Add(time.Hour))
	other := ca.Client(t, "other", time.Now().Add(time.Hour))
	files := writeFiles(t, map[string]string{"client.pem": client.CertPEM, "client.key": client.KeyPEM, "other.key": other.KeyPEM, "ca.pem": ca.PEM})
	path := func(name string) string { return filepath.Join(files, name) }
	tlsBlock := func(cert, key string) string {
		return "tls {\n\t\t\t\tclient_certificate " + cert + "\n\t\t\t\tclient_key " + key + "\n\t\t\t\tca " + path("ca.pem") + "\n\t\t\t}"
	}
	cases := []struct{ name, option, want string }{
		{"valid", tlsBlock(path("client.pem"), path("client.key")) + "\n\t\t\tauth bearer {\n\t\t\t\ttoken {env.HOME}\n\t\t\t}", ""},
		{"missing file", tlsBlock(path("client.pem"), path("nope.key")), "subscription ops: tls client_key: open " + path("nope.key")},
		{"key of another certificate", tlsBlock(path("client.pem"), path("other.key")), "subscription ops: tls.client_key: does not go with client_certificate"},
		{"not a certificate", tlsBlock(path("client.key"), path("client.key")), "subscription ops: tls.client_certificate: holds a PRIVATE KEY block"},
		{"bad token url", "auth oauth2_client_credentials {\n\t\t\t\ttoken_url /token\n\t\t\t\tclient_id a\n\t\t\t\tclient_secret b\n\t\t\t}", "subscription ops: auth.token_url: must be an absolute"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := "{\n\tadmin off\n\tauto_https off\n\twebhooks {\n\t\tstorage " + filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")) +
				"\n\t\tsubscription ops {\n\t\t\turl https://ops.example.com/in\n\t\t\tevents order.created\n\t\t\tsecret a-long-enough-shared-secret\n\t\t\tsignature sha256\n\t\t\t" +
				tc.option + "\n\t\t}\n\t}\n}\nhttp://127.0.0.1:1 {\n\trespond ok\n}\n"
			out, ok := testbed.Validate(t, cfg)
			switch {
			case tc.want == "" && !ok:
				t.Errorf("caddy validate refused it:\n%s", out)
			case tc.want != "" && ok:
				t.Errorf("caddy validate accepted it:\n%s", out)
			case tc.want != "" && !strings.Contains(out, tc.want):
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}
