package natsstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Connection settings: a node reconnects forever; a request that gets no
// answer in requestTimeout fails (and the store reports itself degraded).
const (
	dialTimeout    = 5 * time.Second
	reconnectWait  = time.Second
	pingInterval   = 10 * time.Second
	requestTimeout = 10 * time.Second
)

// TTLs of the buckets whose keys expire (design: "Locks", "Ownership").
const (
	lockTTL      = 10 * time.Second
	heartbeatTTL = 15 * time.Second
	markerTTL    = time.Minute // how long an expiry marker is kept for watchers
)

// connect connects to the servers. An unreachable cluster is a
// webhook.UnavailableError: Caddy starts anyway and the store is opened
// again later.
func (c settings) connect(logger *zap.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("caddy-webhooks"),
		nats.Timeout(dialTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.PingInterval(pingInterval),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("disconnected from NATS", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", zap.String("server", redact(nc.ConnectedUrl())))
		}),
	}
	switch {
	case c.credentials != "":
		opts = append(opts, nats.UserCredentials(c.credentials))
	case c.nkey != "":
		opt, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, fmt.Errorf("storage nats: nkey: %w", err)
		}
		opts = append(opts, opt)
	case c.user != "":
		opts = append(opts, nats.UserInfo(c.user, c.pass))
	case c.token != "":
		opts = append(opts, nats.Token(c.token))
	}
	if c.tls.CA != "" {
		opts = append(opts, nats.RootCAs(c.tls.CA))
	}
	if c.tls.Cert != "" {
		opts = append(opts, nats.ClientCert(c.tls.Cert, c.tls.Key))
	}
	nc, err := nats.Connect(strings.Join(c.urls, ","), opts...)
	if err != nil {
		return nil, unavailable("connecting to NATS", err)
	}
	return nc, nil
}

// unavailable wraps err as a webhook.UnavailableError.
func unavailable(what string, err error) error {
	return webhook.UnavailableError(fmt.Sprintf("storage nats: %s: %v", what, err))
}

// buckets are the KV buckets of the design (doc.go).
type buckets struct {
	ledger, subs, locks, nodes jetstream.KeyValue
}

// bucketConfigs returns the configs of the buckets under the prefix.
func (c settings) bucketConfigs() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: c.prefix, Description: "caddy-webhooks: events, deliveries, resource state", History: 1,
			Storage: jetstream.FileStorage, Replicas: c.replicas, LimitMarkerTTL: markerTTL},
		{Bucket: c.prefix + "_subs", Description: "caddy-webhooks: subscriptions", History: 1,
			Storage: jetstream.FileStorage, Replicas: c.replicas},
		{Bucket: c.prefix + "_locks", Description: "caddy-webhooks: resource locks", History: 1, TTL: lockTTL,
			Storage: jetstream.FileStorage, Replicas: c.replicas, LimitMarkerTTL: markerTTL},
		{Bucket: c.prefix + "_nodes", Description: "caddy-webhooks: live nodes and subscription owners", History: 1, TTL: heartbeatTTL,
			Storage: jetstream.FileStorage, Replicas: c.replicas, LimitMarkerTTL: markerTTL},
	}
}

// ensureBuckets creates the buckets, or updates them to the config (the
// replica count, say), and lets the ledger take atomic batches, which the
// KV API cannot ask for.
func (c settings) ensureBuckets(ctx context.Context, js jetstream.JetStream) (*buckets, error) {
	var kvs []jetstream.KeyValue
	for _, cfg := range c.bucketConfigs() {
		kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, unavailable("bucket "+cfg.Bucket, err)
		}
		kvs = append(kvs, kv)
	}
	ledger, err := js.Stream(ctx, "KV_"+c.prefix)
	if err != nil {
		return nil, unavailable("stream KV_"+c.prefix, err)
	}
	if cfg := ledger.CachedInfo().Config; !cfg.AllowAtomicPublish {
		cfg.AllowAtomicPublish = true
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, unavailable("allowing atomic batches in KV_"+c.prefix, err)
		}
	}
	return &buckets{ledger: kvs[0], subs: kvs[1], locks: kvs[2], nodes: kvs[3]}, nil
}
