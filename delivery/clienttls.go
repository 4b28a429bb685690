package delivery

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// tlsClients are the clients of subscriptions with a tls setting (a client
// certificate for mutual TLS, or their own CAs): a TLS config is a
// transport's, so each such subscription gets a clone of the shared
// transport, with the same SSRF-guarded dialer and timeouts. A client is
// kept for its subscription while its TLS material stays the same, so its
// connections are reused; it is made again when the material changes.
// All go with the sender, at the next config reload.
type tlsClients struct {
	base   *http.Transport
	shared *retryablehttp.Client

	mu   sync.Mutex
	byID map[string]tlsClient
}

type tlsClient struct {
	material [sha256.Size]byte
	client   *retryablehttp.Client
}

func newTLSClients(base *http.Transport, shared *retryablehttp.Client) *tlsClients {
	return &tlsClients{base: base, shared: shared, byID: map[string]tlsClient{}}
}

// client returns the client that sends sub's deliveries.
func (c *tlsClients) client(sub *webhook.Subscription) (*retryablehttp.Client, error) {
	if sub.TLS == nil || sub.TLS.IsZero() {
		return c.shared, nil
	}
	material := sha256.Sum256([]byte(sub.TLS.ClientCertificate + "\x00" + sub.TLS.ClientKey + "\x00" + sub.TLS.CA))
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.byID[sub.ID]; ok && kept.material == material {
		return kept.client, nil
	}
	cfg, err := sub.TLS.Config(time.Now())
	if err != nil {
		return nil, fmt.Errorf("the subscription's tls: %w", err)
	}
	t := c.base.Clone()
	t.TLSClientConfig = cfg
	if old, ok := c.byID[sub.ID]; ok {
		old.client.HTTPClient.CloseIdleConnections()
	}
	kept := tlsClient{material: material, client: c.like(t)}
	c.byID[sub.ID] = kept
	return kept.client, nil
}

// forget drops, with their idle connections, the clients of
// subscriptions not in active.
func (c *tlsClients) forget(active map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, kept := range c.byID {
		if !active[id] {
			kept.client.HTTPClient.CloseIdleConnections()
			delete(c.byID, id)
		}
	}
}

// like returns a client that behaves as the shared one, over t.
func (c *tlsClients) like(t http.RoundTripper) *retryablehttp.Client {
	hc := *c.shared.HTTPClient
	hc.Transport = t
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &hc
	rc.RetryMax = c.shared.RetryMax
	rc.CheckRetry = c.shared.CheckRetry
	rc.Backoff = c.shared.Backoff
	rc.ErrorHandler = c.shared.ErrorHandler
	rc.Logger = nil
	return rc
}
