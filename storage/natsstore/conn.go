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
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // the store closed it
			}
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
// replica count, say), and sets what the KV API cannot ask for: the ledger
// takes atomic batches, and the ledger and the subscriptions are read from
// their stream leader only (no direct gets, which any replica answers,
// perhaps before it has applied a write just acknowledged: a store reads
// its own writes).
func (c settings) ensureBuckets(ctx context.Context, js jetstream.JetStream) (*buckets, error) {
	for _, cfg := range c.bucketConfigs() {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return nil, unavailable("bucket "+cfg.Bucket, err)
		}
	}
	for _, name := range []string{c.prefix, c.prefix + "_subs"} {
		if err := leaderReads(ctx, js, "KV_"+name, name == c.prefix); err != nil {
			return nil, err
		}
	}
	var kvs []jetstream.KeyValue
	for _, cfg := range c.bucketConfigs() {
		kv, err := js.KeyValue(ctx, cfg.Bucket) // after leaderReads: no direct gets
		if err != nil {
			return nil, unavailable("bucket "+cfg.Bucket, err)
		}
		kvs = append(kvs, kv)
	}
	return &buckets{ledger: kvs[0], subs: kvs[1], locks: kvs[2], nodes: kvs[3]}, nil
}

// leaderReads turns off a bucket stream's direct gets and, for the
// ledger, allows atomic batches.
func leaderReads(ctx context.Context, js jetstream.JetStream, stream string, atomic bool) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return unavailable("stream "+stream, err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowDirect && cfg.AllowAtomicPublish == atomic {
		return nil
	}
	cfg.AllowDirect, cfg.AllowAtomicPublish = false, atomic
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return unavailable("configuring "+stream, err)
	}
	return nil
}
