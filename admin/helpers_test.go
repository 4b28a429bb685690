package admin_test

// Helpers of the admin API's integration tests: every test runs a real Caddy
// process (internal/testbed) and talks to its admin endpoint over HTTP with
// testbed.API, which the management page's browser test (e2e/) shares.

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// catalogue is what /webhooks/events must answer for testbed.OrderRules,
// sorted by name.
var catalogue = []eventInfo{
	{"customer.created", "A customer signed up"},
	{"order.created", "A new order was placed"},
	{"order.paid", "An order was paid"},
}

type eventInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// receiver is a delivery target URL that validation accepts; nothing is
// delivered in these tests.
const receiver = "https://receiver.example.com/hooks"

// env is one running Caddy with the webhooks handler in front of a small
// upstream app, and a client for its admin API.
type env struct {
	*testbed.Caddy
	testbed.API
	t         *testing.T
	site      string // base URL of the proxied site
	sitePort  int
	upstream  string // host:port of the upstream app
	rulesPath string
}

// webhooksConfig returns a Caddyfile whose `webhooks` global option holds
// global (extra lines such as `subscription` blocks), with one site that
// runs the handler with the test rules in front of upstream.
func webhooksConfig(sitePort int, upstream, rulesPath, global string) string {
	return testbed.Global(global) + fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
	}
	reverse_proxy %s
}
`, sitePort, rulesPath, upstream)
}

// plainConfig is a config with no webhooks app: neither the handler nor
// the global option.
func plainConfig(sitePort int) string {
	return fmt.Sprintf(`{
	admin {ADMIN}
	auto_https off
	persist_config off
	log {
		output file {LOG}
		format json
		level DEBUG
	}
}
http://127.0.0.1:%d {
	respond "ok"
}
`, sitePort)
}

// startEnv starts Caddy with the webhooks config; global goes into the
// webhooks global option.
func startEnv(t *testing.T, global string) *env {
	t.Helper()
	up := testbed.OrdersApp(t)
	e := &env{t: t, sitePort: testbed.FreePort(t), upstream: up.Listener.Addr().String(), rulesPath: testbed.WriteOrderRules(t)}
	e.site = fmt.Sprintf("http://127.0.0.1:%d", e.sitePort)
	e.Caddy = testbed.StartCaddy(t, "", e.config(global))
	e.API = testbed.API{T: t, Base: "http://" + e.AdminAddr}
	return e
}

// config returns this env's webhooks config with global in the option.
func (e *env) config(global string) string {
	return webhooksConfig(e.sitePort, e.upstream, e.rulesPath, global)
}

// restart stops Caddy gracefully and starts it again on the same directory
// (so the same storage) with config.
func (e *env) restart(config string) {
	e.t.Helper()
	e.Stop()
	e.Caddy = testbed.StartCaddy(e.t, e.Dir, config)
	e.API = testbed.API{T: e.t, Base: "http://" + e.AdminAddr}
}

// reload loads config into the running Caddy and fails unless it is taken.
func (e *env) reload(config string) {
	e.t.Helper()
	if status, body := e.Load(config); status != http.StatusOK {
		e.t.Fatalf("reload: %d %s\n%s", status, body, e.Output())
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// ids returns the ids of subs.
func ids(subs []map[string]any) []string {
	out := []string{}
	for _, s := range subs {
		out = append(out, testbed.Str(s["id"]))
	}
	return out
}

// noSecret checks that a subscription shown outside create and
// rotate-secret hides its secret: no "secret" key, a "secret_hint" that is
// the secret's start followed by "…", and the full secret nowhere in body.
func noSecret(t *testing.T, where string, sub map[string]any, body []byte, secret string) {
	t.Helper()
	if _, ok := sub["secret"]; ok {
		t.Errorf("%s shows the secret: %v", where, sub)
	}
	hint := testbed.Str(sub["secret_hint"])
	prefix, ok := strings.CutSuffix(hint, "…")
	if !ok || prefix == "" || !strings.HasPrefix(secret, prefix) || len(prefix) >= len(secret) {
		t.Errorf("%s: secret_hint %q is not the start of the secret followed by …", where, hint)
	}
	if secret != "" && bytes.Contains(body, []byte(secret)) {
		t.Errorf("%s: the full secret appears in the answer: %s", where, body)
	}
}

// secretsNotLogged checks that none of secrets is in Caddy's log file or
// its output, after checking that the log does record admin requests (so
// that an empty log cannot pass).
func secretsNotLogged(t *testing.T, c *testbed.Caddy, secrets ...string) {
	t.Helper()
	testbed.Eventually(t, 15*time.Second, "the log records admin API requests", func() bool {
		for _, l := range c.LogLines() {
			if testbed.Str(l["logger"]) == "admin.api" && strings.HasPrefix(testbed.Str(l["uri"]), "/webhooks/") {
				return true
			}
		}
		return false
	})
	logs, out := c.Logs(), c.Output()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("secretsNotLogged: empty secret")
		}
		if strings.Contains(logs, s) {
			t.Errorf("secret %q appears in the log file", s)
		}
		if strings.Contains(out, s) {
			t.Errorf("secret %q appears in Caddy's output", s)
		}
	}
}

// parseTime parses an RFC 3339 field of a subscription.
func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, testbed.Str(v))
	if err != nil {
		t.Fatalf("not an RFC 3339 time: %v", v)
	}
	return ts
}
