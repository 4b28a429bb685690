package caddymodule_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
)

// idp is an OAuth2 token endpoint that issues access-<run>-1, -2, … to
// one client, token n valid for expiresIn(n) seconds.
type idp struct {
	srv    *httptest.Server
	prefix string
	issued atomic.Int64
}

func newIDP(t *testing.T, clientID, clientSecret string, expiresIn func(n int64) int) *idp {
	t.Helper()
	run := make([]byte, 6)
	_, _ = rand.Read(run)
	p := &idp{prefix: "access-" + hex.EncodeToString(run) + "-"}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if id != clientID || secret != clientSecret || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		n := p.issued.Add(1)
		fmt.Fprintf(w, `{"access_token":"%s%d","token_type":"Bearer","expires_in":%d}`, p.prefix, n, expiresIn(n))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) token(n int) string { return fmt.Sprintf("%s%d", p.prefix, n) }

// mtlsReceiver requires a client certificate of its CA, notes the path
// and Authorization of each request, and answers 401 to the tokens it is
// told to refuse.
type mtlsReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string // "<path> <Authorization>"
	bad map[string]bool
}

func newMTLSReceiver(t *testing.T, serverCA, clientCA *testpki.CA) *mtlsReceiver {
	t.Helper()
	m := &mtlsReceiver{bad: map[string]bool{}}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		m.mu.Lock()
		m.got = append(m.got, r.URL.Path+" "+auth)
		refused := m.bad[auth]
		m.mu.Unlock()
		if refused {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	m.srv.TLS = serverCA.MTLSConfig(t, clientCA)
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mtlsReceiver) refuse(auth string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bad[auth] = true
}

// received returns the Authorization headers of what came to path.
func (m *mtlsReceiver) received(path string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, g := range m.got {
		if p, auth, _ := strings.Cut(g, " "); p == path {
			out = append(out, auth)
		}
	}
	return out
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAuthenticatedTargets: a real Caddy delivers to a receiver that
// requires a client certificate and an OAuth2 token. The subscription of
// the config (PEM files, client secret from the environment) gets its
// deliveries through, with a token from the token endpoint, a new one
// once it expires, and a new one at once when the receiver refuses it
// (the attempt succeeds); an API subscription without a client
// certificate is refused by the receiver, and gets through once given one
// as PEM. No secret reaches the logs or the API's answers.
func TestAuthenticatedTargets(t *testing.T) {
	t.Parallel()
	const clientSecret = "idp-client-secret-5e1d" //nolint:gosec // G101: a test value
	serverCA, clientCA := testpki.NewCA(t, "receiver CA"), testpki.NewCA(t, "client CA")
	client := clientCA.Client(t, "caddy-webhooks", time.Now().Add(time.Hour))
	files := writeFiles(t, map[string]string{"client.pem": client.CertPEM, "client.key": client.KeyPEM, "ca.pem": serverCA.PEM})
	// The first token for 11 s: expired 1 s after it is issued, for tokens
	// are replaced 10 s before their expiry. The others for an hour, so
	// that the one refused below is still valid when it is.
	tokens := newIDP(t, "caddy", clientSecret, func(n int64) int {
		if n == 1 {
			return 11
		}
		return 3600
	})
	rcv := newMTLSReceiver(t, serverCA, clientCA)

	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global(fmt.Sprintf(`allow_private_targets
		retry 1s 1s 1s 1s 1s
		subscription erp {
			url %s/config
			events order.created
			secret config-secret-0123456789
			signature sha256
			auth oauth2_client_credentials {
				token_url %s
				client_id caddy
				client_secret {env.ERP_CLIENT_SECRET}
				scopes hooks:write
			}
			tls {
				client_certificate %s
				client_key %s
				ca %s
			}
		}`, rcv.srv.URL, tokens.srv.URL, filepath.Join(files, "client.pem"), filepath.Join(files, "client.key"), filepath.Join(files, "ca.pem")))+
		testbed.Site(port, testbed.WriteOrderRules(t), testbed.OrdersApp(t).Listener.Addr()),
		"ERP_CLIENT_SECRET="+clientSecret)
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}

	// An API subscription with the receiver's CA and no client certificate.
	api := a.Create(map[string]any{"url": rcv.srv.URL + "/api", "events": []string{"order.created"}, "tls": map[string]any{"ca": serverCA.PEM}})
	apiID := testbed.Str(api["id"])

	order := func() {
		t.Helper()
		send(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/api/orders", port), `{"total":10}`, http.StatusCreated)
	}
	order()
	testbed.Eventually(t, 15*time.Second, "the config subscription's delivery with the first token", func() bool {
		got := rcv.received("/config")
		return len(got) == 1 && got[0] == "Bearer "+tokens.token(1)
	})
	testbed.Eventually(t, 15*time.Second, "the API subscription's attempt refused for want of a client certificate", func() bool {
		list := a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions/"+apiID+"/deliveries", nil), http.StatusOK).List(t)
		return len(list) == 1 && len(list[0]["attempts"].([]any)) > 0 &&
			strings.Contains(testbed.Str(list[0]["attempts"].([]any)[0].(map[string]any)["error"]), "certificate")
	})
	if got := rcv.received("/api"); len(got) != 0 {
		t.Errorf("the receiver took a request without a client certificate: %q", got)
	}

	// Given one as PEM, its retry gets through.
	a.Expect(a.Do(http.MethodPatch, "/webhooks/subscriptions/"+apiID, map[string]any{"tls": map[string]any{
		"client_certificate": client.CertPEM, "client_key": client.KeyPEM,
	}}), http.StatusOK)
	testbed.Eventually(t, 15*time.Second, "the API subscription's retry delivered", func() bool {
		return len(rcv.received("/api")) == 1
	})

	// Once the token expires, the next delivery fetches a new one.
	testbed.Eventually(t, 15*time.Second, "a delivery with the second token, after the first expired", func() bool {
		r := a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/sub_erp/test", nil), http.StatusOK).Object(t)
		got := rcv.received("/config")
		return r["success"] == true && got[len(got)-1] == "Bearer "+tokens.token(2)
	})

	// A 401 to a token makes the attempt fetch a new one and go again.
	rcv.refuse("Bearer " + tokens.token(2))
	before := len(rcv.received("/config"))
	issued := tokens.issued.Load()
	r := a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions/sub_erp/test", nil), http.StatusOK).Object(t)
	got := rcv.received("/config")[before:]
	if r["success"] != true || len(got) != 2 || got[0] != "Bearer "+tokens.token(2) || got[1] != "Bearer "+tokens.token(int(issued)+1) {
		t.Errorf("after the receiver refused a token: test %v, the receiver got %q", r, got)
	}

	view := a.Get("sub_erp")
	if auth := view["auth"].(map[string]any); auth["client_secret_set"] != true || auth["client_secret"] != nil {
		t.Errorf("the config subscription's auth is shown as %v", auth)
	}
	if tls := view["tls"].(map[string]any); tls["client_key_set"] != true || tls["client_key"] != nil {
		t.Errorf("the config subscription's tls is shown as %v", tls)
	}
	for _, secret := range []string{clientSecret, tokens.prefix, strings.Split(client.KeyPEM, "\n")[1]} {
		if strings.Contains(c.Logs(), secret) || strings.Contains(c.Output(), secret) {
			t.Errorf("%q is in Caddy's log or output", secret)
		}
		for _, path := range []string{"/webhooks/subscriptions", "/webhooks/subscriptions/sub_erp/deliveries", "/webhooks/subscriptions/" + apiID + "/deliveries"} {
			if body := a.Expect(a.Do(http.MethodGet, path, nil), http.StatusOK).Body; strings.Contains(string(body), secret) {
				t.Errorf("%q is in the answer of GET %s", secret, path)
			}
		}
	}
}
