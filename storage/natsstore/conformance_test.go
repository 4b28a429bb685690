package natsstore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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
// heartbeats and the cluster place no stream for a moment.
func openStore(t *testing.T, url, prefix string) *Store {
	t.Helper()
	b := provisioned(t, Backend{URL: url, Prefix: prefix})
	deadline := time.Now().Add(30 * time.Second)
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
