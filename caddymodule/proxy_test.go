package caddymodule_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// publicIP is a global unicast address the SSRF guard lets through; the
// test proxy routes it to the test's receivers, so nothing leaves the host.
const publicIP = "93.184.215.14"

// proxyPassword is the proxy's password, which Caddy must use and never log.
const proxyPassword = "s3cret-proxy-pw"

// proxyRig is a forward proxy that wants proxyPassword, routing publicIP's
// ports 80 and 443 to a plain and a TLS receiver (its certificate names
// publicIP; certFile, for SSL_CERT_FILE, makes Caddy trust it), and a
// receiver whose real loopback address is its own URL.
type proxyRig struct {
	proxy    *testbed.ForwardProxy
	certFile string
	mu       sync.Mutex
	got      []string // "scheme host path" of each delivery received
	loopback *httptest.Server
}

func newProxyRig(t *testing.T) *proxyRig {
	t.Helper()
	r := &proxyRig{proxy: testbed.StartForwardProxy(t)}
	r.proxy.Auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("hooks:"+proxyPassword))
	record := func(scheme string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get("Proxy-Authorization") != "" {
				t.Errorf("a receiver got the proxy's credentials")
			}
			r.mu.Lock()
			r.got = append(r.got, scheme+" "+req.Host+" "+req.URL.Path)
			r.mu.Unlock()
		})
	}
	plain := httptest.NewServer(record("http"))
	t.Cleanup(plain.Close)
	secure := httptest.NewUnstartedServer(record("https"))
	cert, pemBytes := selfSigned(t, publicIP)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	r.loopback = httptest.NewServer(record("loopback"))
	t.Cleanup(r.loopback.Close)
	r.proxy.Route[publicIP+":80"] = plain.Listener.Addr().String()
	r.proxy.Route[publicIP+":443"] = secure.Listener.Addr().String()
	r.certFile = filepath.Join(t.TempDir(), "receiver.pem")
	if err := os.WriteFile(r.certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// received returns what the receivers got, sorted.
func (r *proxyRig) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.got))
}

// proxyURL is the proxy's URL with user and password.
func (r *proxyRig) proxyURL(password string) string {
	return strings.Replace(r.proxy.URL, "http://", "http://hooks:"+password+"@", 1)
}

// selfSigned is a certificate for ip that is its own CA, and its PEM.
func selfSigned(t *testing.T, ip string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook receiver"},
		IPAddresses: []net.IP{net.ParseIP(ip)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// startProxied starts a Caddy whose rules infer order.created from the
// batch app's creates, with the webhooks options and environment given;
// it returns the Caddy, its admin API and the site's base URL.
func startProxied(t *testing.T, options string, env ...string) (*testbed.Caddy, testbed.API, string) {
	t.Helper()
	_, up := newBatchApp(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulePath, createdRules)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, dir, testbed.Global(options)+fmt.Sprintf("http://127.0.0.1:%d {\n\twebhooks {\n\t\trules %s\n\t}\n\treverse_proxy %s\n}\n",
		port, rulePath, up.Listener.Addr()), env...)
	return c, testbed.API{T: t, Base: "http://" + c.AdminAddr}, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// attempts returns the attempts of a subscription's deliveries.
func attempts(a testbed.API, id string) []map[string]any {
	var out []map[string]any
	for _, d := range a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id+"/deliveries", nil), http.StatusOK).List(a.T) {
		for _, at := range d["attempts"].([]any) {
			out = append(out, at.(map[string]any))
		}
	}
	return out
}

// TestProxyDelivery: with `proxy` set (its password a placeholder) and
// private targets refused, deliveries go through the proxy, itself on
// loopback: https ones through a CONNECT tunnel, http ones as absolute-URI
// requests, authenticated with the URL's credentials. A target whose name
// resolves to loopback is refused before the proxy hears of it, with the
// reason on the attempt, although the proxy would have reached it. The
// password is in no log line, no attempt and not in the config Caddy
// shows.
func TestProxyDelivery(t *testing.T) {
	t.Parallel()
	rig := newProxyRig(t)
	c, a, base := startProxied(t, "proxy "+rig.proxyURL("{env.PROXY_PASSWORD}")+"\n\t\tretry 1h",
		"PROXY_PASSWORD="+proxyPassword, "SSL_CERT_FILE="+rig.certFile)
	secure := testbed.Str(a.Create(map[string]any{"url": "https://" + publicIP + "/hooks/tls", "events": []string{"order.created"}})["id"])
	plain := testbed.Str(a.Create(map[string]any{"url": "http://" + publicIP + "/hooks/plain", "events": []string{"order.created"}})["id"])
	_, loopPort, _ := net.SplitHostPort(rig.loopback.Listener.Addr().String())
	private := testbed.Str(a.Create(map[string]any{"url": "http://localhost:" + loopPort + "/hooks/private", "events": []string{"order.created"}})["id"])

	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)
	testbed.Eventually(t, 15*time.Second, "the refused delivery's attempt", func() bool { return len(attempts(a, private)) == 1 })
	testbed.Eventually(t, 15*time.Second, "two deliveries through the proxy", func() bool { return len(rig.received()) == 2 })

	want := []string{"http " + publicIP + " /hooks/plain", "https " + publicIP + " /hooks/tls"}
	if got := rig.received(); !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	if tun, fwd := rig.proxy.Tunnels(), rig.proxy.Forwards(); !slices.Equal(tun, []string{publicIP + ":443"}) || !slices.Equal(fwd, []string{publicIP}) {
		t.Errorf("the proxy tunnelled %q and forwarded %q; want the https delivery tunnelled, the http one forwarded, the refused one neither", tun, fwd)
	}
	at := attempts(a, private)[0]
	if msg := testbed.Str(at["error"]); !strings.Contains(msg, "localhost resolves to 127.0.0.1, a loopback address; set allow_private_targets") && !strings.Contains(msg, "localhost resolves to ::1, a loopback address") {
		t.Errorf("the refused attempt's error is %q, want it to name the loopback address", msg)
	}
	// The receiver answers before the worker records the attempt: wait
	// for the record, not for the receipt.
	for _, id := range []string{secure, plain} {
		testbed.Eventually(t, 15*time.Second, "the attempt of "+id+" recorded", func() bool { return len(attempts(a, id)) > 0 })
		if at := attempts(a, id); len(at) != 1 || at[0]["status_code"] != 200.0 {
			t.Errorf("subscription %s: attempts %v, want one answered 200", id, at)
		}
	}
	cfg := a.Do(http.MethodGet, "/config/", nil)
	for where, text := range map[string]string{"the log": c.Logs() + c.Output(), "the config": string(cfg.Body), "the attempts": fmt.Sprint(attempts(a, secure), attempts(a, plain), attempts(a, private))} {
		if strings.Contains(text, proxyPassword) {
			t.Errorf("%s holds the proxy password", where)
		}
	}
}

// TestProxyFromEnvironment: without `proxy`, deliveries follow HTTPS_PROXY
// (credentials included), as other Go programs do.
func TestProxyFromEnvironment(t *testing.T) {
	t.Parallel()
	rig := newProxyRig(t)
	_, a, base := startProxied(t, "retry 1h", "HTTPS_PROXY="+rig.proxyURL(proxyPassword), "https_proxy=", "NO_PROXY=", "no_proxy=", "SSL_CERT_FILE="+rig.certFile)
	a.Create(map[string]any{"url": "https://" + publicIP + "/hooks/env", "events": []string{"order.created"}})
	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)
	testbed.Eventually(t, 15*time.Second, "the delivery through the environment's proxy", func() bool { return len(rig.received()) == 1 })
	if tun := rig.proxy.Tunnels(); !slices.Equal(tun, []string{publicIP + ":443"}) {
		t.Errorf("the proxy tunnelled %q", tun)
	}
}
