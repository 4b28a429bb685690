package natsstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/storagetest"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestConformance runs the backend conformance suite on a three-node
// cluster (fsyncing every write), each check on a store of its own prefix.
func TestConformance(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openStore(t, c.URL(), fmt.Sprintf("conf%d", n.Add(1)))
	})
}

// openStore opens a store on prefix, trying again while the cluster is
// unavailable (as Caddy does): on a loaded machine, a server may miss its
// heartbeats and the cluster place no stream for a moment. The prefix's
// buckets are deleted when the test ends, so that the cluster does not
// carry every earlier test's streams (each a Raft group of its own).
func openStore(t *testing.T, url, prefix string) *Store {
	t.Helper()
	b := provisioned(t, Backend{URL: url, Prefix: prefix})
	t.Cleanup(func() { deleteBuckets(t, url, b.cfg) }) // after the store's Close, registered below
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, err := open(b.cfg, zaptest.NewLogger(t), nil)
		if err == nil {
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		if !errors.Is(err, webhook.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("opening the store: %v; trying again", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// deleteBuckets deletes the buckets of cfg's prefix, if they are there.
func deleteBuckets(t *testing.T, url string, cfg settings) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Logf("deleting the test's buckets: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, bc := range cfg.bucketConfigs() {
		if err := js.DeleteKeyValue(ctx, bc.Bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Logf("deleting bucket %s: %v", bc.Bucket, err)
		}
	}
}
