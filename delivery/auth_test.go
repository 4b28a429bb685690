package delivery

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func authEvent() *webhook.Event {
	return &webhook.Event{ID: "evt_auth", Name: "order.created", Time: time.Now(), Data: json.RawMessage(`{"n":1}`)}
}

func authSub(url string) *webhook.Subscription {
	return &webhook.Subscription{ID: "sub_auth", URL: url, Signature: "sha256", Secret: "a-secret-of-some-length"}
}

// echoAuth is a receiver that answers 200 with the Authorization header
// it got, as a careless receiver might.
func echoAuth(t *testing.T, got *atomic.Value) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		fmt.Fprintf(w, "you sent %s", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSendBasicAndBearer: the header each sends, and an answer that
// echoes it kept without the credentials.
func TestSendBasicAndBearer(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv := echoAuth(t, &got)
	snd := newSender(rigSettings())
	cases := []struct {
		auth   *webhook.Auth
		header string
	}{
		{&webhook.Auth{Type: webhook.AuthBasic, Username: "caddy", Password: "open-sesame"}, "Basic Y2FkZHk6b3Blbi1zZXNhbWU="},
		{&webhook.Auth{Type: webhook.AuthBearer, Token: "tok-123456"}, "Bearer tok-123456"},
	}
	for _, c := range cases {
		sub := authSub(srv.URL)
		sub.Auth = c.auth
		res := snd.send(context.Background(), sub, authEvent(), 1)
		if res.outcome != Delivered || got.Load() != c.header {
			t.Errorf("%s: outcome %v, Authorization %q, want %q", c.auth.Type, res.outcome, got.Load(), c.header)
		}
		for _, secret := range []string{"open-sesame", "Y2FkZHk6b3Blbi1zZXNhbWU=", "tok-123456"} {
			if strings.Contains(res.attempt.ResponseBody, secret) {
				t.Errorf("%s: the attempt keeps %q: %q", c.auth.Type, secret, res.attempt.ResponseBody)
			}
		}
		if !strings.Contains(res.attempt.ResponseBody, "[redacted]") {
			t.Errorf("%s: response body %q", c.auth.Type, res.attempt.ResponseBody)
		}
	}
}

// TestSendMutualTLS: a receiver that requires a client certificate takes
// the delivery of a subscription that has one and refuses one without it;
// the subscription's client is kept while its certificate stays the same
// (its connection reused) and made again when it changes.
func TestSendMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := testpki.NewCA(t, "receiver CA"), testpki.NewCA(t, "client CA")
	var dialled atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.TLS = serverCA.MTLSConfig(t, clientCA)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	snd := newSender(rigSettings())

	without := authSub(srv.URL)
	without.TLS = &webhook.ClientTLS{CA: serverCA.PEM}
	res := snd.send(context.Background(), without, authEvent(), 1)
	if res.outcome != Retry || res.attempt.StatusCode != 0 || !strings.Contains(res.attempt.Error, "certificate") {
		t.Errorf("without a client certificate: outcome %v, attempt %+v", res.outcome, res.attempt)
	}

	first := clientCA.Client(t, "caddy-1", time.Now().Add(time.Hour))
	sub := authSub(srv.URL)
	sub.TLS = &webhook.ClientTLS{ClientCertificate: first.CertPEM, ClientKey: first.KeyPEM, CA: serverCA.PEM}
	before := dialled.Load()
	for range 3 {
		res = snd.send(context.Background(), sub, authEvent(), 1)
		if res.outcome != Delivered || res.attempt.ResponseBody != "caddy-1" {
			t.Fatalf("with the client certificate: outcome %v, attempt %+v", res.outcome, res.attempt)
		}
	}
	if n := dialled.Load() - before; n != 1 {
		t.Errorf("3 deliveries dialled %d connections, want 1 (the subscription's client kept)", n)
	}

	second := clientCA.Client(t, "caddy-2", time.Now().Add(time.Hour))
	changed := *sub
	changed.TLS = &webhook.ClientTLS{ClientCertificate: second.CertPEM, ClientKey: second.KeyPEM, CA: serverCA.PEM}
	if res = snd.send(context.Background(), &changed, authEvent(), 1); res.outcome != Delivered || res.attempt.ResponseBody != "caddy-2" {
		t.Errorf("after the certificate changed: outcome %v, attempt %+v", res.outcome, res.attempt)
	}

	plain := authSub(srv.URL)
	if res = snd.send(context.Background(), plain, authEvent(), 1); res.outcome == Delivered {
		t.Errorf("a subscription without tls got through the receiver's own CA: %+v", res.attempt)
	}
}

// tokenEndpoint issues tokens tok-1, tok-2, … each valid for expiresIn
// seconds, to client id/cs only.
type tokenEndpoint struct {
	srv       *httptest.Server
	issued    atomic.Int64
	expiresIn int
}

func newTokenEndpoint(t *testing.T, expiresIn int) *tokenEndpoint {
	te := &tokenEndpoint{expiresIn: expiresIn}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "id" || secret != "client-secret-xyz" || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "hooks:write" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			// A careless endpoint that echoes the request.
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad client %s:%s"}`, id, secret)
			return
		}
		n := te.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n, te.expiresIn)
	}))
	t.Cleanup(te.srv.Close)
	return te
}

func oauthSub(receiver, tokenURL string) *webhook.Subscription {
	sub := authSub(receiver)
	sub.Auth = &webhook.Auth{Type: webhook.AuthOAuth2, TokenURL: tokenURL, ClientID: "id", ClientSecret: "client-secret-xyz", Scopes: []string{"hooks:write"}}
	return sub
}

// TestSendOAuth2: a token is fetched once and sent until it is about to
// expire (on a test clock), then a new one; a 401 from the receiver drops
// it and the attempt goes again with a new one, once.
func TestSendOAuth2(t *testing.T) {
	t.Parallel()
	te := newTokenEndpoint(t, 60)
	var refuse sync.Map // tokens the receiver answers 401 to
	var mu sync.Mutex
	var seen []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		mu.Lock()
		seen = append(seen, h)
		mu.Unlock()
		if _, bad := refuse.Load(h); bad || h == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rcv.Close)
	snd := newSender(rigSettings())
	clock := newFakeClock()
	clock.Set(time.Now())
	snd.creds.tokens.now = clock.Now
	sub := oauthSub(rcv.URL, te.srv.URL)
	send := func(want Outcome) {
		t.Helper()
		if res := snd.send(context.Background(), sub, authEvent(), 1); res.outcome != want {
			t.Fatalf("outcome %v, want %v: %+v", res.outcome, want, res.attempt)
		}
	}
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1]
	}

	// Workers that start at once wait for one fetch.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { send(Delivered) })
	}
	wg.Wait()
	if n := te.issued.Load(); n != 1 || last() != "Bearer tok-1" {
		t.Fatalf("8 deliveries: %d tokens issued, the last sent %q", n, last())
	}

	// Valid for 60 s, replaced 10 s early.
	clock.Set(clock.Now().Add(49 * time.Second))
	send(Delivered)
	if te.issued.Load() != 1 || last() != "Bearer tok-1" {
		t.Errorf("49 s on: %d issued, sent %q; want tok-1 still", te.issued.Load(), last())
	}
	clock.Set(clock.Now().Add(2 * time.Second))
	send(Delivered)
	if te.issued.Load() != 2 || last() != "Bearer tok-2" {
		t.Errorf("51 s on: %d issued, sent %q; want tok-2", te.issued.Load(), last())
	}

	// The receiver refuses tok-2: one attempt, with tok-3 after the 401.
	refuse.Store("Bearer tok-2", true)
	mu.Lock()
	seen = nil
	mu.Unlock()
	send(Delivered)
	mu.Lock()
	if strings.Join(seen, ",") != "Bearer tok-2,Bearer tok-3" {
		t.Errorf("after a 401 the attempt sent %q, want tok-2 then tok-3", seen)
	}
	mu.Unlock()

	// A receiver that refuses every token: one refresh per attempt, and
	// the 401 is final like any 4xx.
	refuse.Store("Bearer tok-3", true)
	refuse.Store("Bearer tok-4", true)
	send(Fail)
	if n := te.issued.Load(); n != 4 {
		t.Errorf("%d tokens issued, want 4 (one refresh for the refused tok-3)", n)
	}

	// A change of the auth fetches a token for it at once.
	changed := *sub
	a := *sub.Auth
	a.TokenURL = te.srv.URL + "/?v=2"
	changed.Auth = &a
	refuse.Clear()
	res := snd.send(context.Background(), &changed, authEvent(), 1)
	if res.outcome != Delivered || te.issued.Load() != 5 || last() != "Bearer tok-5" {
		t.Errorf("after the auth changed: %v, %d issued, sent %q", res.outcome, te.issued.Load(), last())
	}
}

// TestRedactSentToken: an answer that echoes the OAuth2 token is kept
// without it even when the token cache no longer holds that token by the
// time the answer comes (another worker replaced it, or the subscription's
// auth changed).
func TestRedactSentToken(t *testing.T) {
	t.Parallel()
	te := newTokenEndpoint(t, 60)
	var snd *sender
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snd.creds.tokens.forget(map[string]bool{}) // the cache moves on meanwhile
		fmt.Fprintf(w, "you sent %s", r.Header.Get("Authorization"))
	}))
	t.Cleanup(rcv.Close)
	snd = newSender(rigSettings())
	res := snd.send(context.Background(), oauthSub(rcv.URL, te.srv.URL), authEvent(), 1)
	if res.outcome != Delivered || res.attempt.ResponseBody != "you sent Bearer [redacted]" {
		t.Errorf("%v: response body %q", res.outcome, res.attempt.ResponseBody)
	}
}

// TestSendOAuth2Errors: no token, no delivery: the attempt is retried on
// the schedule, and its error says why without the client secret or the
// token endpoint's body; a token endpoint on a private address is refused
// like a target unless allow_private_targets.
func TestSendOAuth2Errors(t *testing.T) {
	t.Parallel()
	te := newTokenEndpoint(t, 60)
	var got atomic.Value
	rcv := echoAuth(t, &got)
	snd := newSender(rigSettings())
	sub := oauthSub(rcv.URL, te.srv.URL)
	sub.Auth.ClientSecret = "wrong-secret-abc"
	res := snd.send(context.Background(), sub, authEvent(), 1)
	if res.outcome != Retry || !strings.Contains(res.attempt.Error, "401") || !strings.Contains(res.attempt.Error, "invalid_client") {
		t.Errorf("refused by the token endpoint: %v %+v", res.outcome, res.attempt)
	}
	if strings.Contains(res.attempt.Error, "wrong-secret-abc") || got.Load() != nil {
		t.Errorf("the attempt's error %q, receiver got %v", res.attempt.Error, got.Load())
	}

	guarded := rigSettings()
	guarded.AllowPrivateTargets = false
	res = newSender(guarded).send(context.Background(), oauthSub("https://receiver.example/", te.srv.URL), authEvent(), 1)
	if res.outcome != Fail || !strings.Contains(res.attempt.Error, "allow_private_targets") || te.issued.Load() != 0 {
		t.Errorf("a token endpoint on loopback: %v %+v, %d issued", res.outcome, res.attempt, te.issued.Load())
	}
}

// TestSendAuthThroughProxy: with an outbound proxy, the token request and
// a subscription's own mTLS client go through it, as deliveries do, the
// guard judging their targets (made-up public addresses, which the proxy
// routes to the test's servers).
func TestSendAuthThroughProxy(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := testpki.NewCA(t, "receiver CA"), testpki.NewCA(t, "client CA")
	const receiverIP, idpIP = "93.184.215.14", "93.184.215.15"
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.TLS.PeerCertificates[0].Subject.CommonName, r.Header.Get("Authorization"))
	}))
	rcv.TLS = serverCA.MTLSConfig(t, clientCA)
	rcv.TLS.Certificates = []tls.Certificate{serverCA.ServerFor(t, receiverIP).TLS(t)}
	rcv.StartTLS()
	t.Cleanup(rcv.Close)
	te := newTokenEndpoint(t, 60)

	proxy := testbed.StartForwardProxy(t)
	proxy.Route[receiverIP+":443"] = rcv.Listener.Addr().String()
	proxy.Route[idpIP+":80"] = te.srv.Listener.Addr().String()
	s := rigSettings()
	s.AllowPrivateTargets, s.Proxy = false, proxy.URL
	snd := newSender(s)

	client := clientCA.Client(t, "caddy", time.Now().Add(time.Hour))
	sub := oauthSub("https://"+receiverIP+"/hooks", "http://"+idpIP+"/token")
	sub.TLS = &webhook.ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, CA: serverCA.PEM}
	res := snd.send(context.Background(), sub, authEvent(), 1)
	if res.outcome != Delivered || res.attempt.ResponseBody != "caddy Bearer [redacted]" {
		t.Errorf("through the proxy: %v %+v", res.outcome, res.attempt)
	}
	if tun, fwd := proxy.Tunnels(), proxy.Forwards(); len(tun) != 1 || tun[0] != receiverIP+":443" || len(fwd) != 1 || fwd[0] != idpIP {
		t.Errorf("the proxy tunnelled %q and forwarded %q", tun, fwd)
	}
}

// TestForgetCredentials: the TLS clients and tokens of subscriptions that
// are no longer active are dropped (a token is fetched again when the
// subscription comes back); those of active ones are kept.
func TestForgetCredentials(t *testing.T) {
	t.Parallel()
	te := newTokenEndpoint(t, 3600)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(rcv.Close)
	snd := newSender(rigSettings())
	sub := oauthSub(rcv.URL, te.srv.URL)
	send := func() {
		t.Helper()
		if res := snd.send(context.Background(), sub, authEvent(), 1); res.outcome != Delivered {
			t.Fatalf("outcome %v: %+v", res.outcome, res.attempt)
		}
	}
	send()
	snd.creds.forget(map[string]bool{sub.ID: true})
	send()
	if n := te.issued.Load(); n != 1 {
		t.Errorf("%d tokens issued while the subscription stayed active, want 1", n)
	}
	snd.creds.forget(map[string]bool{"sub_other": true})
	if len(snd.creds.tokens.bySub) != 0 {
		t.Errorf("the token of an inactive subscription is kept")
	}
	send()
	if n := te.issued.Load(); n != 2 {
		t.Errorf("%d tokens issued once it came back, want 2", n)
	}

	ca := testpki.NewCA(t, "CA")
	withTLS := authSub(rcv.URL)
	withTLS.TLS = &webhook.ClientTLS{CA: ca.PEM}
	if _, err := snd.creds.clients.client(withTLS); err != nil {
		t.Fatal(err)
	}
	snd.creds.forget(map[string]bool{withTLS.ID: true})
	if len(snd.creds.clients.byID) != 1 {
		t.Errorf("the TLS client of an active subscription is dropped")
	}
	snd.creds.forget(map[string]bool{})
	if len(snd.creds.clients.byID) != 0 {
		t.Errorf("the TLS client of an inactive subscription is kept")
	}
}
