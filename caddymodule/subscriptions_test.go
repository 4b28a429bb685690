package caddymodule_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestValidateSubscriptionHeaders: a `subscription` block of the Caddyfile
// gets the admin API's header and URL rules, so `caddy validate` refuses a
// header the API refuses, or a port out of range, naming the subscription.
func TestValidateSubscriptionHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, option, want string }{
		{"proxy header", "header Proxy-Authorization \"Basic eDp5\"", `"Proxy-Authorization" belongs to the connection`},
		{"expect header", "header expect 100-continue", `"expect" belongs to the connection`},
		{"content-encoding header", "header Content-Encoding gzip", `"Content-Encoding" would misdescribe the body`},
		{"signature header", "header webhook-signature v1,x", `"webhook-signature" is set by delivery`},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := "{\n\tadmin off\n\tauto_https off\n\twebhooks {\n\t\tstorage " + filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")) +
				"\n\t\tsubscription ops {\n\t\t\turl https://ops.example.com:443/in\n\t\t\tevents order.created\n\t\t\tsecret a-long-enough-shared-secret\n\t\t\tsignature sha256\n\t\t\t" +
				tc.option + "\n\t\t}\n\t}\n}\nhttp://127.0.0.1:1 {\n\trespond ok\n}\n"
			out, ok := testbed.Validate(t, cfg)
			if ok {
				t.Fatalf("caddy validate accepted %s:\n%s", tc.option, out)
			}
			if !strings.Contains(strings.ReplaceAll(out, `\"`, `"`), "subscription ops: headers: "+tc.want) { // the log escapes quotes
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
	// The same block with an allowed header is valid.
	cfg := "{\n\tadmin off\n\tauto_https off\n\twebhooks {\n\t\tstorage " + filepath.Join(dir, "ok") +
		"\n\t\tsubscription ops {\n\t\t\turl https://ops.example.com:443/in\n\t\t\tevents order.created\n\t\t\tsecret a-long-enough-shared-secret\n\t\t\tsignature sha256\n\t\t\theader Authorization \"Bearer t\"\n\t\t}\n\t}\n}\nhttp://127.0.0.1:1 {\n\trespond ok\n}\n"
	if out, ok := testbed.Validate(t, cfg); !ok {
		t.Errorf("caddy validate refused an allowed header:\n%s", out)
	}
}
