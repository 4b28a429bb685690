package natsstore_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	_ "github.com/caddy-webhooks/caddy-webhooks/storage/natsstore"
)

// TestCaddyfileAdapt checks Caddyfile → JSON of the `storage nats` block
// for each golden file in testdata/caddyfile_adapt: a Caddyfile, a line of
// dashes, the JSON.
func TestCaddyfileAdapt(t *testing.T) {
	testbed.AdaptGolden(t, "testdata/caddyfile_adapt/*.caddyfiletest")
}

// TestCaddyfileErrors checks that a bad `storage nats` block is refused
// with a message naming the problem.
func TestCaddyfileErrors(t *testing.T) {
	block := func(body string) string {
		return "{\n\twebhooks {\n\t\tstorage nats {\n" + body + "\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n"
	}
	cases := []struct{ name, body, want string }{
		{"unknown option", "urls nats://a:4222", `unknown option "urls"`},
		{"url twice", "url nats://a:4222\nurl nats://b:4222", "url given twice"},
		{"url without value", "url", "wrong argument count"},
		{"prefix twice", "prefix a\nprefix b", "prefix given twice"},
		{"user without password", "user me", "user takes a name and a password"},
		{"user with three", "user me pw extra", "user takes a name and a password"},
		{"replicas not a number", "replicas three", `replicas "three" is not a number from 1 to 5`},
		{"replicas too many", "replicas 7", `replicas "7" is not a number from 1 to 5`},
		{"credentials two files", "credentials a b", "wrong argument count"},
		{"tls unknown", "tls {\nkeyfile x\n}", `unknown tls option "keyfile"`},
		{"tls twice", "tls {\nca a\nca b\n}", "tls ca given twice"},
		{"tls argument", "tls on", "wrong argument count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(block(tc.body)), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
