package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/http/httpproxy"
	"golang.org/x/net/idna"
)

// ProxyOff is the proxy setting that sends every delivery straight to its
// target, whatever the environment says.
const ProxyOff = "off"

// ParseProxy reads the proxy setting: a URL whose scheme is http, https,
// socks5 or socks5h (http:// when it has none), with optional user:pass@.
// Its errors never repeat the setting, which may hold a password.
func ParseProxy(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty proxy URL")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("the proxy is not a valid URL") // url.Error would quote it, password and all
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy scheme %q is not http, https, socks5 or socks5h", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("the proxy URL has no host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the proxy URL may have no path, query or fragment")
	}
	return u, nil
}

// egress is how deliveries leave: through the proxy of the settings (or of
// the environment) or straight, with the SSRF guard on the final target
// either way. Any transport that sends deliveries (the shared one, or one
// of a subscription's own) gets it through Apply.
type egress struct {
	allowPrivate bool
	// proxyFor returns a target's proxy, nil to go straight.
	proxyFor func(*url.URL) (*url.URL, error)
	// lookup resolves a target's name (net.DefaultResolver; a test's).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// proxies holds the host:port of each proxy proxyFor has named: a
	// dial there is to the admin's chosen proxy, which may well be on a
	// private address, so the guard does not apply to it.
	proxies          sync.Map
	guarded, trusted *net.Dialer
}

// newEgress returns the egress of s: s.Proxy when set (for every target;
// NO_PROXY does not apply to it), straight when it is ProxyOff, and
// otherwise the environment's HTTPS_PROXY, HTTP_PROXY and NO_PROXY (read
// now, so a reload picks up a change).
func newEgress(s Settings) *egress {
	e := &egress{
		allowPrivate: s.AllowPrivateTargets,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		guarded: dialer(s.AllowPrivateTargets),
		trusted: dialer(true),
	}
	switch s.Proxy {
	case "":
		e.proxyFor = httpproxy.FromEnvironment().ProxyFunc()
	case ProxyOff:
		e.proxyFor = func(*url.URL) (*url.URL, error) { return nil, nil }
	default:
		u, err := ParseProxy(s.Proxy)
		e.proxyFor = func(*url.URL) (*url.URL, error) { return u, err }
	}
	return e
}

// apply makes t send through e.
func (e *egress) apply(t *http.Transport) {
	t.Proxy = e.proxy
	t.DialContext = e.dial
}

// proxy is the transport's Proxy: the proxy of the request's target, once
// the target has passed the guard. The guard cannot run at the dial, which
// goes to the proxy, so it resolves the target here (on every attempt, as
// a pooled connection to the proxy may carry it).
func (e *egress) proxy(req *http.Request) (*url.URL, error) {
	p, err := e.proxyFor(req.URL)
	if err != nil {
		return nil, fmt.Errorf("choosing the proxy: %w", err)
	}
	if p == nil {
		// Straight: the guarded dialer checks the address it dials, unless
		// it is a proxy's, which it trusts; that target is checked here.
		if _, isProxy := e.proxies.Load(proxyAddr(req.URL)); isProxy && !e.allowPrivate {
			return nil, e.checkTarget(req.Context(), req.URL.Hostname())
		}
		return nil, nil
	}
	if !e.allowPrivate {
		if err := e.checkTarget(req.Context(), req.URL.Hostname()); err != nil {
			return nil, err
		}
	}
	e.proxies.Store(proxyAddr(p), true)
	return p, nil
}

// checkTarget refuses a target host when any of its addresses is special,
// as guardControl does for the address it dials.
func (e *egress) checkTarget(ctx context.Context, host string) error {
	if a, err := netip.ParseAddr(host); err == nil {
		if why := refusal(a); why != "" {
			return fmt.Errorf("%w: %s is %s; set allow_private_targets to deliver there", errBlocked, a, why)
		}
		return nil
	}
	addrs, err := e.lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("resolving %s to check it before the proxy connects: %w", host, err)
	}
	for _, a := range addrs {
		a = a.Unmap() // the resolver gives IPv4 addresses in IPv6 form
		if why := refusal(a); why != "" {
			return fmt.Errorf("%w: %s resolves to %s, %s; set allow_private_targets to deliver there", errBlocked, host, a, why)
		}
	}
	return nil
}

// dial is the transport's DialContext: a proxy is dialled as it is, any
// other address through the guard.
func (e *egress) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := e.proxies.Load(addr); ok {
		return e.trusted.DialContext(ctx, network, addr)
	}
	return e.guarded.DialContext(ctx, network, addr)
}

// proxyAddr is the host:port that net/http dials for proxy u (its
// canonicalAddr): the scheme's port when u has none, the host in ASCII.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	host := u.Hostname()
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a
	}
	return net.JoinHostPort(host, port)
}
