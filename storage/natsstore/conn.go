package natsstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
	setupTimeout   = 5 * time.Second // per try of a bucket's setup (retried)
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
// replica count, say). The ledger and the subscriptions are read from
// their stream leader only (no direct gets, which any replica answers,
// perhaps before it has applied a write just acknowledged: a store reads
// its own writes), and the ledger takes atomic batches: settings the KV
// API cannot ask for, and which an update through it would turn back to
// its defaults until the next update (the other nodes' batches refused
// meanwhile: "atomic publish is disabled"). So those two buckets, once
// they exist, are updated as streams, keeping their settings.
func (c settings) ensureBuckets(ctx context.Context, js jetstream.JetStream) (*buckets, error) {
	var kvs []jetstream.KeyValue
	for _, cfg := range c.bucketConfigs() {
		var kv jetstream.KeyValue
		err := retrySetup(ctx, func(ctx context.Context) error {
			var err error
			switch cfg.Bucket {
			case c.prefix, c.prefix + "_subs":
				err = ensureLeaderRead(ctx, js, cfg, cfg.Bucket == c.prefix)
			default:
				_, err = js.CreateOrUpdateKeyValue(ctx, cfg)
			}
			if err == nil {
				kv, err = js.KeyValue(ctx, cfg.Bucket) // after ensureLeaderRead: no direct gets
			}
			return err
		})
		if err != nil {
			return nil, unavailable("bucket "+cfg.Bucket, err)
		}
		kvs = append(kvs, kv)
	}
	return &buckets{ledger: kvs[0], subs: kvs[1], locks: kvs[2], nodes: kvs[3]}, nil
}

// retrySetup runs try, each time with setupTimeout, until it succeeds,
// fails otherwise than "not now" (transient), or ctx ends. A request of a
// cluster still forming (routes being made) can go unanswered; each step
// is idempotent, so asking again is safe where waiting longer is not
// (a lost request is never answered). No responders at all is asked
// again only noResponderTries times in all: it is also what a server
// without JetStream answers, which waiting does not change.
func retrySetup(ctx context.Context, try func(context.Context) error) error {
	for tries := 1; ; tries++ {
		tctx, cancel := context.WithTimeout(ctx, setupTimeout)
		err := try(tctx)
		cancel()
		// nats.go reports no responders to its account check as
		// "JetStream not enabled".
		noResponders := errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)
		again := transient(err) && (!noResponders || tries < noResponderTries)
		if err == nil || !again || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(reconnectWait):
		}
	}
}

// noResponderTries bounds the tries of a setup step that no server
// answers (retrySetup).
const noResponderTries = 3

// ensureLeaderRead creates a bucket whose stream has no direct gets (and,
// if atomic, takes atomic batches), or brings an existing one to cfg in
// at most one update that keeps those settings.
func ensureLeaderRead(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, atomic bool) error {
	name := "KV_" + cfg.Bucket
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		// Another node may create it meanwhile, and set it already.
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
		s, err = js.Stream(ctx, name)
	}
	if err != nil {
		return err
	}
	have := s.CachedInfo().Config
	want := have
	want.Description, want.Replicas, want.MaxMsgsPerSubject = cfg.Description, cfg.Replicas, int64(max(cfg.History, 1))
	if cfg.LimitMarkerTTL != 0 { // per-message TTLs cannot be turned off
		want.AllowMsgTTL, want.SubjectDeleteMarkerTTL = true, cfg.LimitMarkerTTL
	}
	want.AllowDirect, want.AllowAtomicPublish = false, atomic
	if reflect.DeepEqual(want, have) {
		return nil
	}
	if _, err := js.UpdateStream(ctx, want); err != nil {
		return fmt.Errorf("configuring stream %s: %w", name, err)
	}
	return nil
}
