package badgerstore_test

import (
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/storage/storagetest"
)

// TestConformance runs the backend conformance suite on the Badger store.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
