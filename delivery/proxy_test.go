package delivery

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestParseProxy: the schemes net/http's transport speaks, http:// when
// none is given; anything else refused without repeating the setting,
// which may hold a password.
func TestParseProxy(t *testing.T) {
	for in, want := range map[string]string{
		"http://proxy:3128":            "http://proxy:3128",
		"proxy:3128":                   "http://proxy:3128",
		"https://u:p@proxy.example/":   "https://u:p@proxy.example/",
		"socks5h://10.0.0.1:1080":      "socks5h://10.0.0.1:1080",
		" http://[fd00::1]:3128 ":      "http://[fd00::1]:3128",
		"http://user:s%40cret@proxy:1": "http://user:s%40cret@proxy:1",
	} {
		u, err := ParseProxy(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                                  "empty",
		"ftp://proxy:21":                    `scheme "ftp"`,
		"http://":                           "no host",
		"http://proxy:3128/path":            "no path",
		"http://proxy:3128?q=1":             "no path, query",
		"http://user:p%zzsecret@proxy:3128": "not a valid URL",
	} {
		_, err := ParseProxy(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseProxy(%q) = %v, want an error with %q", in, err, want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseProxy(%q): the error repeats the password: %v", in, err)
		}
	}
}

// TestEgressChoosesProxy: the configured proxy takes every target, NO_PROXY
// or not; without one the environment decides (HTTPS_PROXY for https,
// HTTP_PROXY for http, NO_PROXY excluded, as Go's ProxyFromEnvironment);
// "off" ignores the environment.
func TestEgressChoosesProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://secure-proxy:3128")
	t.Setenv("HTTP_PROXY", "http://plain-proxy:3128")
	t.Setenv("NO_PROXY", "internal.example")
	for _, name := range []string{"https_proxy", "http_proxy", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(name, "") // lower case wins in httpproxy; REQUEST_METHOD disables HTTP_PROXY (CGI)
	}
	cases := []struct {
		setting, target, want string // want "" = straight
	}{
		{"", "https://hooks.example/x", "http://secure-proxy:3128"},
		{"", "http://hooks.example/x", "http://plain-proxy:3128"},
		{"", "https://internal.example/x", ""},
		{"http://mine:8080", "https://internal.example/x", "http://mine:8080"},
		{"http://mine:8080", "http://hooks.example/x", "http://mine:8080"},
		{ProxyOff, "https://hooks.example/x", ""},
	}
	for _, c := range cases {
		e := newEgress(Settings{Proxy: c.setting, AllowPrivateTargets: true})
		req, _ := http.NewRequest(http.MethodPost, c.target, nil)
		got, err := e.proxy(req)
		if err != nil || (got == nil) != (c.want == "") || (got != nil && got.String() != c.want) {
			t.Errorf("proxy %q, target %s: %v, %v; want %q", c.setting, c.target, got, err, c.want)
		}
	}
}

// TestEgressChecksTarget: through a proxy, the target's name is resolved
// and refused when any of its addresses is special (the dial, which goes to
// the proxy, cannot tell); an address literal is judged as it is; a
// resolver failure is an error but not a refusal (retried); nothing is
// resolved with allow_private_targets, or for a target reached straight,
// whose dial the guard checks.
func TestEgressChecksTarget(t *testing.T) {
	dns := map[string][]netip.Addr{
		"public.example": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("2606:2800:21f:cb07:6820:80da:af6b:8b2c")},
		"mixed.example":  {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")},
		"mapped.example": {netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	var lookups atomic.Int32
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if a, ok := dns[host]; ok {
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	cases := []struct {
		target  string
		blocked string // a part of the refusal; "" = allowed
	}{
		{"https://public.example/hook", ""},
		{"https://mixed.example/hook", "mixed.example resolves to 10.1.2.3, a private address; set allow_private_targets"},
		{"http://mapped.example/hook", "mapped.example resolves to 127.0.0.1, a loopback address"},
		{"http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"},
		{"https://[fe80::1%25eth0]/hook", "fe80::1%eth0 is a link-local address"},
		{"https://93.184.215.14/hook", ""},
	}
	e := newEgress(Settings{Proxy: "http://127.0.0.1:3128"})
	e.lookup = lookup
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, c.target, nil)
		p, err := e.proxy(req)
		switch {
		case c.blocked == "" && (err != nil || p == nil):
			t.Errorf("%s: %v, %v; want the proxy", c.target, p, err)
		case c.blocked != "" && (!errors.Is(err, errBlocked) || !strings.Contains(err.Error(), c.blocked)):
			t.Errorf("%s: %v, %v; want a refusal with %q", c.target, p, err, c.blocked)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "https://nowhere.example/", nil)
	if _, err := e.proxy(req); err == nil || errors.Is(err, errBlocked) || !strings.Contains(err.Error(), "resolving nowhere.example") {
		t.Errorf("unresolvable target: %v, want a resolver error that is not a refusal", err)
	}

	lookups.Store(0)
	for _, s := range []Settings{{Proxy: "http://127.0.0.1:3128", AllowPrivateTargets: true}, {Proxy: ProxyOff}} {
		e := newEgress(s)
		e.lookup = lookup
		req, _ := http.NewRequest(http.MethodPost, "https://mixed.example/hook", nil)
		if _, err := e.proxy(req); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("%d lookups with allow_private_targets or straight, want none", n)
	}
}

// TestEgressDirectToProxyAddress: a target reached straight (as the
// environment's NO_PROXY, or HTTPS_PROXY alone for http targets, leaves
// some) whose address is a proxy's is judged by the guard like any other,
// though dials to the proxy itself are trusted.
func TestEgressDirectToProxyAddress(t *testing.T) {
	e := newEgress(Settings{})
	e.proxyFor = func(u *url.URL) (*url.URL, error) { // HTTPS_PROXY=127.0.0.1:3128 alone
		if u.Scheme == "https" {
			return &url.URL{Scheme: "http", Host: "127.0.0.1:3128"}, nil
		}
		return nil, nil
	}
	e.lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	}
	req, _ := http.NewRequest(http.MethodPost, "https://public.example/hook", nil)
	if p, err := e.proxy(req); err != nil || p == nil {
		t.Fatalf("https through the proxy: %v, %v", p, err)
	}
	req, _ = http.NewRequest(http.MethodPost, "http://127.0.0.1:3128/admin", nil)
	if p, err := e.proxy(req); !errors.Is(err, errBlocked) {
		t.Errorf("http straight to the proxy's address: %v, %v; want a refusal", p, err)
	}
}

// TestSendThroughProxy: a sender whose proxy is on loopback, with private
// targets refused, delivers through it to a public target (made up, the
// proxy routes it to the receiver), authenticating with the proxy URL's
// credentials, over CONNECT for https and as an absolute-URI request for
// http; a loopback target is refused before the proxy hears of it, though
// the proxy would reach it.
func TestSendThroughProxy(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Errorf("the receiver got the proxy's credentials")
		}
		got.Add(1)
	})
	plain := httptest.NewServer(handler)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(handler)
	t.Cleanup(secure.Close)

	proxy := testbed.StartForwardProxy(t)
	proxy.Auth = "Basic " + base64.StdEncoding.EncodeToString([]byte("hooks:pa ss"))
	proxy.Route["93.184.215.14:80"] = plain.Listener.Addr().String()
	proxy.Route["93.184.215.14:443"] = secure.Listener.Addr().String()
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("hooks", "pa ss")

	s := newSender(Settings{Proxy: pu.String(), Timeout: 5 * time.Second, Retry: []time.Duration{time.Minute}, Workers: 1})
	// The receiver's certificate is httptest's; trust it as the target's.
	s.client.HTTPClient.Transport.(*http.Transport).TLSClientConfig = secure.Client().Transport.(*http.Transport).TLSClientConfig
	s.client.HTTPClient.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true // the certificate names 127.0.0.1, not the made-up address

	ev := &webhook.Event{ID: "evt_1", Name: "order.created", Time: time.Now()}
	sub := func(id, url string) *webhook.Subscription {
		return &webhook.Subscription{ID: id, URL: url, Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	}
	for _, target := range []string{"https://93.184.215.14/hook", "http://93.184.215.14/hook"} {
		res := s.send(t.Context(), sub("sub_1", target), ev, 1)
		if res.outcome != Delivered {
			t.Errorf("%s: %v %q, want delivered through the proxy", target, res.outcome, res.attempt.Error)
		}
	}
	if tun, fwd := proxy.Tunnels(), proxy.Forwards(); len(tun) != 1 || tun[0] != "93.184.215.14:443" || len(fwd) != 1 || fwd[0] != "93.184.215.14" {
		t.Errorf("the proxy tunnelled %q and forwarded %q", tun, fwd)
	}

	res := s.send(t.Context(), sub("sub_2", plain.URL+"/hook"), ev, 1)
	if res.outcome != Fail || !strings.Contains(res.attempt.Error, "127.0.0.1 is a loopback address; set allow_private_targets") {
		t.Errorf("loopback target through the proxy: %v %q, want refused", res.outcome, res.attempt.Error)
	}
	if got.Load() != 2 || len(proxy.Forwards()) != 1 {
		t.Errorf("the receiver got %d deliveries, the proxy forwarded %q; want the refused one at neither", got.Load(), proxy.Forwards())
	}
}
