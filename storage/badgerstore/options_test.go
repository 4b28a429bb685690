package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestBadgerMemoryBudget: what Badger's settings make it hold in memory
// whatever the backlog stays within a sidecar's budget: its memtables'
// arenas (about 1.3× their size each), its caches, and its table
// builders' buffers (as large as the tables they build; builders.go frees
// them soon after). The Go heap grows to twice what is live, so each MiB
// here is about two of RSS.
// bench/backlog.sh measures the whole process.
func TestBadgerMemoryBudget(t *testing.T) {
	const memtablesBudget, cachesBudget = 24 << 20, 16 << 20
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"clear", nil},
		{"encrypted", bytes.Repeat([]byte{7}, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bo := badgerOptions(Options{Dir: t.TempDir(), Logger: zap.NewNop(), EncryptionKey: tc.key})
			if held := int64(bo.NumMemtables) * bo.MemTableSize * 13 / 10; held > memtablesBudget {
				t.Errorf("memtables %d × %d MiB: %d MiB held, budget %d MiB", bo.NumMemtables, bo.MemTableSize>>20, held>>20, memtablesBudget>>20)
			}
			if caches := bo.BlockCacheSize + bo.IndexCacheSize; caches > cachesBudget {
				t.Errorf("block cache %d MiB, index cache %d MiB, budget %d MiB", bo.BlockCacheSize>>20, bo.IndexCacheSize>>20, cachesBudget>>20)
			}
			if bo.TableSizeMultiplier != 1 || bo.BaseTableSize > 1<<20 {
				t.Errorf("tables of %d KiB × %d per level: compactions of a large store would build large tables", bo.BaseTableSize>>10, bo.TableSizeMultiplier)
			}
			if bo.Compression == options.None {
				t.Error("uncompressed tables: the store's mapped pages, which count in RSS, are 2.5 times larger")
			}
			if bo.BlockCacheSize == 0 {
				t.Error("compressed blocks with no cache: every read decompresses")
			}
			if len(tc.key) > 0 && bo.IndexCacheSize == 0 {
				t.Error("an encrypted store needs an index cache")
			}
		})
	}
}

// TestLargeEventFitsOneCommit: small memtables must still take the largest
// event a handler stores by default (max_body is 1 MiB) with its delivery
// in one transaction, in the tree rather than in a value log file.
func TestLargeEventFitsOneCommit(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Now().UTC()
	sub := &webhook.Subscription{ID: webhook.NewID("sub_", now), URL: "https://example.com/h", Events: []string{"*"}, IsActive: true, CreatedAt: now}
	if err := s.PutSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	big, _ := json.Marshal(map[string]string{"body": string(bytes.Repeat([]byte("x"), 900<<10))})
	ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: big}
	if err := s.Commit(ctx, []webhook.Event{ev}, nil); err != nil {
		t.Fatalf("committing a %d KiB event: %v", len(big)>>10, err)
	}
	if got := collect(t, s, now.Add(-time.Second)); len(got) != 1 || len(got[0].Data) != len(big) {
		t.Fatalf("read back %d events", len(got))
	}
	if n := s.QueueDepth(); n != 1 {
		t.Errorf("queue depth %d, want its delivery", n)
	}
}
