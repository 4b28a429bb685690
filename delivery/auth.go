package delivery

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// credentials hold what authenticated deliveries need beyond the
// subscription: the clients of subscriptions with their own TLS, and the
// OAuth2 tokens fetched for them.
type credentials struct {
	clients *tlsClients
	tokens  *tokens
}

func newCredentials(shared *retryablehttp.Client, base *http.Transport) *credentials {
	return &credentials{
		clients: newTLSClients(base, shared),
		tokens:  newTokens(shared.HTTPClient),
	}
}

// forget drops the TLS clients and OAuth2 tokens of the subscriptions
// not in active (deleted or paused; a resumed one makes them again), so
// that a long-running server does not keep those of every subscription
// it ever served until the next reload.
func (c *credentials) forget(active map[string]bool) {
	c.clients.forget(active)
	c.tokens.forget(active)
}

// do sends req for sub, over sub's client, with sub's credentials. When
// the receiver answers 401 to an OAuth2 token, the token is dropped and
// req is sent once more, in the same attempt, with a new one: a receiver
// that revoked or rotated its tokens early gets a fresh one at once rather
// than at the next retry, minutes later. A second 401 is the attempt's
// answer (final, like any 4xx).
func (s *sender) do(ctx context.Context, sub *webhook.Subscription, req *retryablehttp.Request) (*http.Response, error) {
	client, err := s.creds.clients.client(sub)
	if err != nil {
		return nil, err
	}
	tok, err := s.creds.authorize(ctx, sub, req.Request)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || tok == nil {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	s.creds.tokens.drop(sub, tok)
	if _, err := s.creds.authorize(ctx, sub, req.Request); err != nil {
		return nil, err
	}
	return client.Do(req) // retryablehttp rewinds the body
}

// authorize sets req's Authorization header for sub's auth; for OAuth2 it
// returns the token sent.
func (c *credentials) authorize(ctx context.Context, sub *webhook.Subscription, req *http.Request) (*oauth2.Token, error) {
	if sub.Auth == nil {
		return nil, nil
	}
	switch a := sub.Auth; a.Type {
	case webhook.AuthBasic:
		req.SetBasicAuth(a.Username, a.Password)
	case webhook.AuthBearer:
		req.Header.Set("Authorization", "Bearer "+a.Token)
	case webhook.AuthOAuth2:
		tok, err := c.tokens.token(ctx, sub)
		if err != nil {
			return nil, err
		}
		tok.SetAuthHeader(req)
		return tok, nil
	default:
		return nil, fmt.Errorf("auth type %q is not one of basic, bearer, oauth2_client_credentials", a.Type)
	}
	return nil, nil
}

// redact replaces in s, a receiver's answer kept in an attempt, the
// credentials sub has and the one the request that got the answer sent
// (authorization, its Authorization header: an OAuth2 token another
// worker may have replaced meanwhile), in case the receiver echoes them.
func (c *credentials) redact(sub *webhook.Subscription, authorization, s string) string {
	if sub.Auth == nil {
		return s
	}
	a := sub.Auth
	_, sent, _ := strings.Cut(authorization, " ") // after "Basic " or "Bearer "
	return redactAll(s, []string{a.Password, a.Token, a.ClientSecret, sent})
}

// redactAll replaces each secret of 4 bytes or more in s; shorter ones
// would hide too much that is not them.
func redactAll(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// expiryMargin is how long before its expiry a token is replaced, so that
// it does not expire on the way to the receiver (oauth2's own margin).
const expiryMargin = 10 * time.Second

// tokens caches the OAuth2 tokens of subscriptions until they expire
// (expiryMargin early), a receiver refuses them, or the subscription's
// auth changes. Tokens without an expiry are kept until refused.
type tokens struct {
	client *http.Client // for token requests: the shared, SSRF-guarded transport
	now    func() time.Time

	mu    sync.Mutex
	bySub map[string]*tokenEntry
}

// tokenEntry is the token of one subscription; its mutex makes the
// workers that need a new token wait for one fetch instead of each
// asking the token endpoint.
type tokenEntry struct {
	auth [sha256.Size]byte // what the token was fetched with
	conf *clientcredentials.Config

	mu      sync.Mutex
	tok     *oauth2.Token
	expires time.Time // tok's expiry on the clock of tokens; zero: none
}

// newTokens fetches tokens with shared, the deliveries' client (its
// guarded, proxied transport and its timeout; redirects not followed).
func newTokens(shared *http.Client) *tokens {
	return &tokens{client: shared, now: time.Now, bySub: map[string]*tokenEntry{}}
}

// entry returns sub's entry, a new one when its auth changed.
func (ts *tokens) entry(sub *webhook.Subscription) *tokenEntry {
	a := sub.Auth
	key := sha256.Sum256([]byte(strings.Join(append([]string{a.TokenURL, a.ClientID, a.ClientSecret}, a.Scopes...), "\x00")))
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if e := ts.bySub[sub.ID]; e != nil && e.auth == key {
		return e
	}
	e := &tokenEntry{auth: key, conf: &clientcredentials.Config{
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, TokenURL: a.TokenURL, Scopes: a.Scopes,
	}}
	ts.bySub[sub.ID] = e
	return e
}

// token returns sub's token, fetched when there is none or it expires
// within expiryMargin.
func (ts *tokens) token(ctx context.Context, sub *webhook.Subscription) (*oauth2.Token, error) {
	e := ts.entry(sub)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok != nil && (e.expires.IsZero() || ts.now().Add(expiryMargin).Before(e.expires)) {
		return e.tok, nil
	}
	tok, err := e.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, ts.client))
	if err != nil {
		return nil, tokenError(sub.Auth, err)
	}
	e.tok, e.expires = tok, time.Time{}
	if !tok.Expiry.IsZero() {
		// oauth2 sets Expiry from expires_in on the real clock.
		e.expires = ts.now().Add(time.Until(tok.Expiry))
	}
	return tok, nil
}

// drop forgets sub's token if it is still used, the one a receiver
// refused (another worker may have replaced it already).
func (ts *tokens) drop(sub *webhook.Subscription, used *oauth2.Token) {
	e := ts.entry(sub)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok == used {
		e.tok = nil
	}
}

// forget drops the tokens of subscriptions not in active.
func (ts *tokens) forget(active map[string]bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for id := range ts.bySub {
		if !active[id] {
			delete(ts.bySub, id)
		}
	}
}

// tokenError says why no token came, without the token endpoint's body
// (which may echo what it was sent) and without the client secret.
func tokenError(a *webhook.Auth, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := fmt.Sprintf("the token endpoint %s answered %s", a.TokenURL, re.Response.Status)
		if re.ErrorCode != "" {
			msg += fmt.Sprintf(" (%s", re.ErrorCode)
			if re.ErrorDescription != "" {
				msg += ": " + re.ErrorDescription
			}
			msg += ")"
		}
		return errors.New(redactAll("fetching an OAuth2 token: "+msg, []string{a.ClientSecret}))
	}
	return redactedError{msg: redactAll(fmt.Sprintf("fetching an OAuth2 token from %s: %v", a.TokenURL, err), []string{a.ClientSecret}), err: err}
}

// redactedError is an error whose message was cleaned of secrets; it
// still unwraps to the cause (errBlocked, a timeout) for classify.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
