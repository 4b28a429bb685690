package admin_test

// Helpers of the admin API's integration tests: every test runs a real Caddy
// process (internal/testbed) and talks to its admin endpoint over HTTP.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// testRules is the rule file of the handler: three named events, each with
// a description, which make the event catalogue of these tests.
const testRules = `events:
  - name: order.created
    description: A new order was placed
    match: { method: POST, path: /api/orders, status: 201 }
    data:
      orderId: response.body._id
  - name: order.paid
    description: An order was paid
    match: { method: POST, path: "/api/orders/{id}/pay", status: 2xx }
    data:
      orderId: path.id
  - name: customer.created
    description: A customer signed up
    match: { method: POST, path: /api/customers, status: 201 }
    data: response.body
    redact: [password]
`

// catalogue is what /webhooks/events must answer for testRules, sorted by name.
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
	api
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

// upstreamApp is the legacy app: POST /api/orders answers 201 with an order.
func upstreamApp(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"_id":"ord1","total":10}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// startEnv starts Caddy with the webhooks config; global goes into the
// webhooks global option.
func startEnv(t *testing.T, global string) *env {
	t.Helper()
	up := upstreamApp(t)
	e := &env{t: t, sitePort: testbed.FreePort(t), upstream: up.Listener.Addr().String(), rulesPath: writeRules(t)}
	e.site = fmt.Sprintf("http://127.0.0.1:%d", e.sitePort)
	e.Caddy = testbed.StartCaddy(t, "", e.config(global))
	e.api = api{t: t, base: "http://" + e.AdminAddr}
	return e
}

// writeRules writes testRules to a file and returns its path.
func writeRules(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(testRules), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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
	e.api = api{t: e.t, base: "http://" + e.AdminAddr}
}

// reload loads config into the running Caddy and fails unless it is taken.
func (e *env) reload(config string) {
	e.t.Helper()
	if status, body := e.Load(config); status != http.StatusOK {
		e.t.Fatalf("reload: %d %s\n%s", status, body, e.Output())
	}
}

// api is a client of one admin endpoint.
type api struct {
	t    *testing.T
	base string
}

var client = &http.Client{Timeout: 30 * time.Second}

// response is an answer of the admin API.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.method, r.path, r.status, r.body)
}

// do sends a request; body is nil (no body), a string or []byte (sent
// as is) or any other value (sent as JSON).
func (a api) do(method, path string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	// Caddy replaces its admin server on every load: it binds a new socket
	// with SO_REUSEPORT and closes the old one, resetting connections that
	// were queued on it. A GET that met such a reset is sent again.
	for try := 0; err != nil && method == http.MethodGet && try < 5; try++ {
		time.Sleep(20 * time.Millisecond)
		req, _ = http.NewRequest(method, a.base+path, nil)
		resp, err = client.Do(req)
	}
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading answer: %v", method, path, err)
	}
	return response{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless the answer has status, and for answers with
// a body, unless it is JSON.
func (a api) expect(r response, status int) response {
	a.t.Helper()
	if r.status != status {
		a.t.Fatalf("want %d, got %s", status, r)
	}
	if status != http.StatusNoContent {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			a.t.Fatalf("Content-Type %q, want application/json: %s", ct, r)
		}
		if !json.Valid(r.body) {
			a.t.Fatalf("answer is not JSON: %s", r)
		}
	}
	return r
}

// object decodes an answer that must be a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil || m == nil {
		t.Fatalf("answer is not a JSON object (%v): %s", err, r)
	}
	return m
}

// list decodes an answer that must be a JSON array of objects.
func (r response) list(t *testing.T) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(r.body, &l); err != nil || l == nil {
		t.Fatalf("answer is not a JSON array (%v): %s", err, r)
	}
	return l
}

// apiError checks that r is a JSON error with status: {"error": "…"}
// with a message, and returns its fields (nil when absent).
func (a api) apiError(r response, status int) (msg string, fields map[string]string) {
	a.t.Helper()
	a.expect(r, status)
	var e struct {
		Error  *string           `json:"error"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		a.t.Fatalf("error answer is not {\"error\",\"fields\"} (%v): %s", err, r)
	}
	if e.Error == nil || *e.Error == "" {
		a.t.Fatalf("error answer without an error message: %s", r)
	}
	return *e.Error, e.Fields
}

// fieldError checks that r is a 400 naming field in "fields" with a
// message, and returns that message.
func (a api) fieldError(r response, field string) string {
	a.t.Helper()
	_, fields := a.apiError(r, http.StatusBadRequest)
	msg, ok := fields[field]
	if !ok || msg == "" {
		a.t.Fatalf("want an error on field %q, got %s", field, r)
	}
	return msg
}

// create posts a subscription and returns the 201 answer's object.
func (a api) create(body any) map[string]any {
	a.t.Helper()
	return a.expect(a.do(http.MethodPost, "/webhooks/subscriptions", body), http.StatusCreated).object(a.t)
}

// get returns one subscription, which must exist.
func (a api) get(id string) map[string]any {
	a.t.Helper()
	return a.expect(a.do(http.MethodGet, "/webhooks/subscriptions/"+id, nil), http.StatusOK).object(a.t)
}

// listSubs returns the list answer for query (e.g. "?is_active=true").
func (a api) listSubs(query string) []map[string]any {
	a.t.Helper()
	return a.expect(a.do(http.MethodGet, "/webhooks/subscriptions"+query, nil), http.StatusOK).list(a.t)
}

// ids returns the ids of subs.
func ids(subs []map[string]any) []string {
	out := []string{}
	for _, s := range subs {
		out = append(out, str(s["id"]))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str returns v as a string, or "" when it is not one.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs returns v (a JSON array) as strings.
func strs(v any) []string {
	out := []string{}
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, str(x))
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
	hint := str(sub["secret_hint"])
	prefix, ok := strings.CutSuffix(hint, "…")
	if !ok || prefix == "" || !strings.HasPrefix(secret, prefix) || len(prefix) >= len(secret) {
		t.Errorf("%s: secret_hint %q is not the start of the secret followed by …", where, hint)
	}
	if secret != "" && bytes.Contains(body, []byte(secret)) {
		t.Errorf("%s: the full secret appears in the answer: %s", where, body)
	}
}

// logLines returns the decoded JSON lines of Caddy's log file.
func logLines(c *testbed.Caddy) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.Logs()))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// secretsNotLogged checks that none of secrets is in Caddy's log file or
// its output, after checking that the log does record admin requests (so
// that an empty log cannot pass).
func secretsNotLogged(t *testing.T, c *testbed.Caddy, secrets ...string) {
	t.Helper()
	testbed.Eventually(t, 5*time.Second, "the log records admin API requests", func() bool {
		for _, l := range logLines(c) {
			if str(l["logger"]) == "admin.api" && strings.HasPrefix(str(l["uri"]), "/webhooks/") {
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
	ts, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		t.Fatalf("not an RFC 3339 time: %v", v)
	}
	return ts
}
