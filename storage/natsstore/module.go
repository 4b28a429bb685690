package natsstore

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
)

func init() {
	caddy.RegisterModule(Backend{})
}

// Backend is the `nats` storage of the webhooks app: a NATS JetStream
// cluster shared by any number of Caddy nodes (docs/multi-node.md).
type Backend struct {
	// URL lists the NATS servers, comma-separated (nats://host:4222,…).
	URL string `json:"url,omitempty"`
	// Credentials is a .creds file (a user JWT and its nkey seed).
	Credentials string `json:"credentials,omitempty"`
	// NKey is a file holding an nkey seed.
	NKey string `json:"nkey,omitempty"`
	// User and Password authenticate with a user name.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Token authenticates with a token.
	Token string `json:"token,omitempty"`
	// TLS verifies the servers with CA and presents Cert and Key.
	TLS *TLS `json:"tls,omitempty"`
	// Prefix names the streams and buckets (default webhooks).
	Prefix string `json:"prefix,omitempty"`
	// Replicas is the streams' and buckets' replica count (default 3).
	Replicas int `json:"replicas,omitempty"`

	cfg settings // the fields with placeholders replaced and defaults set
}

// TLS is the `tls` block of the nats storage.
type TLS struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// settings are a Backend's fields once provisioned.
type settings struct {
	urls                          []string
	credentials, nkey, user, pass string
	token                         string
	tls                           TLS
	prefix                        string
	replicas                      int
}

// Defaults.
const (
	defaultPrefix   = "webhooks"
	defaultReplicas = 3
)

// CaddyModule returns the Caddy module information.
func (Backend) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks.storage.nats",
		New: func() caddy.Module { return new(Backend) },
	}
}

// Provision replaces placeholders ({env.NATS_PASSWORD}, say) and sets the
// defaults.
func (b *Backend) Provision(ctx caddy.Context) error {
	registerMetrics(ctx.GetMetricsRegistry())
	repl := caddy.NewReplacer()
	r := func(s string) string { return repl.ReplaceKnown(s, "") }
	c := settings{
		credentials: r(b.Credentials), nkey: r(b.NKey), user: r(b.User), pass: r(b.Password), token: r(b.Token),
		prefix: r(b.Prefix), replicas: b.Replicas,
	}
	for u := range strings.SplitSeq(r(b.URL), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.urls = append(c.urls, u)
		}
	}
	if b.TLS != nil {
		c.tls = TLS{CA: r(b.TLS.CA), Cert: r(b.TLS.Cert), Key: r(b.TLS.Key)}
	}
	if c.prefix == "" {
		c.prefix = defaultPrefix
	}
	if c.replicas == 0 {
		c.replicas = defaultReplicas
	}
	b.cfg = c
	return nil
}

// prefixRE is what a KV bucket name may hold; the buckets are the prefix
// and the prefix with a suffix.
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// maxReplicas is JetStream's limit.
const maxReplicas = 5

// Validate checks the provisioned settings.
func (b *Backend) Validate() error {
	c := b.cfg
	if len(c.urls) == 0 {
		return fmt.Errorf("storage nats: url is required (nats://host:4222, comma-separated for several servers)")
	}
	for _, s := range c.urls {
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Errorf("storage nats: url %q is not like nats://host:4222", redact(s))
		}
	}
	auth := 0
	for _, set := range []bool{c.credentials != "", c.nkey != "", c.user != "", c.token != ""} {
		if set {
			auth++
		}
	}
	switch {
	case auth > 1:
		return fmt.Errorf("storage nats: give only one of credentials, nkey, user, token")
	case c.pass != "" && c.user == "":
		return fmt.Errorf("storage nats: password without user")
	case c.user != "" && c.pass == "":
		return fmt.Errorf("storage nats: user %s has no password", c.user)
	case (c.tls.Cert == "") != (c.tls.Key == ""):
		return fmt.Errorf("storage nats: tls needs both cert and key, or neither")
	case !prefixRE.MatchString(c.prefix):
		return fmt.Errorf("storage nats: prefix %q may hold only letters, digits, - and _", c.prefix)
	case c.replicas < 1 || c.replicas > maxReplicas:
		return fmt.Errorf("storage nats: replicas %d is not between 1 and %d", c.replicas, maxReplicas)
	}
	return nil
}

// PoolKey names the store in the process: configs naming the same servers
// and prefix share one connection and store across reloads.
func (b *Backend) PoolKey() string {
	urls := slices.Clone(b.cfg.urls)
	slices.Sort(urls)
	return "nats:" + strings.Join(urls, ",") + "/" + b.cfg.prefix
}

// Compatible refuses a config that names the same servers and prefix as
// the open store but connects or stores differently: the old config still
// uses the connection, so the new settings would silently not apply.
func (b *Backend) Compatible(opened storage.Backend) error {
	prev, ok := any(opened).(*Backend)
	if !ok {
		return fmt.Errorf("storage nats %s: the storage is open with another backend: changing it needs a restart of Caddy", b.cfg.prefix)
	}
	return b.compatible(prev)
}

// compatible is Compatible with the open store's own backend.
func (b *Backend) compatible(prev *Backend) error {
	if prev.cfg.replicas != b.cfg.replicas {
		return fmt.Errorf("storage nats %s: the store is open with replicas %d: changing replicas needs a restart of Caddy", b.cfg.prefix, prev.cfg.replicas)
	}
	if !sameAuth(prev.cfg, b.cfg) {
		return fmt.Errorf("storage nats %s: the store is open with other credentials or TLS settings: changing them needs a restart of Caddy", b.cfg.prefix)
	}
	return nil
}

// sameAuth says whether two settings connect alike.
func sameAuth(a, b settings) bool {
	return a.credentials == b.credentials && a.nkey == b.nkey && a.user == b.user && a.pass == b.pass &&
		a.token == b.token && a.tls == b.tls
}

// Describe is what the store's log lines say of it: the servers (without
// any user or password in their URLs), the prefix and the replicas.
func (b *Backend) Describe() []zap.Field {
	urls := make([]string, len(b.cfg.urls))
	for i, u := range b.cfg.urls {
		urls[i] = redact(u)
	}
	return []zap.Field{zap.String("storage", "nats"), zap.Strings("nats_url", urls), zap.String("prefix", b.cfg.prefix), zap.Int("replicas", b.cfg.replicas)}
}

// redact removes the user information of a URL, for logs and errors.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Backend)(nil)
	_ caddy.Validator       = (*Backend)(nil)
	_ caddyfile.Unmarshaler = (*Backend)(nil)
)
