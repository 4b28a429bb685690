package natsstore

import (
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/storagetest"
)

// TestConformance runs the backend conformance suite on a three-node
// cluster (fsyncing every write), each check on a store of its own prefix.
func TestConformance(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		b := provisioned(t, Backend{URL: c.URL(), Prefix: fmt.Sprintf("conf%d", n.Add(1))})
		s, err := b.Open(zaptest.NewLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
