package testbed

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"sync"
	"testing"
)

// ForwardProxy is a forward HTTP proxy on a loopback port, as the
// deliveries' outbound proxy: CONNECT tunnels for https targets, and
// absolute-URI requests forwarded for http ones. Route maps a target's
// host:port to where it really is, so that a test can name made-up public
// addresses (which the SSRF guard lets through) and still reach its
// receivers on loopback; an address not in Route is dialled as it is.
type ForwardProxy struct {
	URL   string            // http://127.0.0.1:port
	Route map[string]string // target host:port → address to dial; set before use
	// Auth, when set, is the Proxy-Authorization every request must carry
	// ("Basic …"); others are answered 407.
	Auth string

	srv *httptest.Server
	rp  *httputil.ReverseProxy
	mu  sync.Mutex
	// tunnels and forwards are the targets (host:port) of the CONNECTs
	// and of the absolute-URI requests the proxy served.
	tunnels, forwards []string
}

// StartForwardProxy starts a forward proxy, stopped when the test ends.
func StartForwardProxy(t testing.TB) *ForwardProxy {
	t.Helper()
	p := &ForwardProxy{Route: map[string]string{}}
	tr := &http.Transport{DialContext: p.dial}
	p.rp = &httputil.ReverseProxy{
		// The request names its target in full; ReverseProxy drops the
		// hop-by-hop headers, Proxy-Authorization among them.
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL = pr.In.URL },
		Transport: tr,
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() { p.srv.Close(); tr.CloseIdleConnections() })
	p.URL = p.srv.URL
	return p
}

// Tunnels returns the targets the proxy opened CONNECT tunnels to.
func (p *ForwardProxy) Tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tunnels...)
}

// Forwards returns the targets of the absolute-URI requests it forwarded.
func (p *ForwardProxy) Forwards() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.forwards...)
}

func (p *ForwardProxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p.mu.Lock()
	if to, ok := p.Route[addr]; ok {
		addr = to
	}
	p.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (p *ForwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.Auth != "" && r.Header.Get("Proxy-Authorization") != p.Auth {
		w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "a forward proxy takes absolute URIs", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.forwards = append(p.forwards, r.URL.Host)
	p.mu.Unlock()
	p.rp.ServeHTTP(w, r)
}

// tunnel serves a CONNECT: a TCP connection to the target, spliced to the
// client's.
func (p *ForwardProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := p.dial(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, fmt.Sprintf("dialling %s: %v", r.Host, err), http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, r.Host)
	p.mu.Unlock()
	down, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() {
		_, _ = io.Copy(up, buf) // what the client sent after the CONNECT, then the rest
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(down, up)
	down.Close()
	up.Close()
}
