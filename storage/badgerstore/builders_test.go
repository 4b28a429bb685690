package badgerstore

import (
	"testing"

	"github.com/dgraph-io/ristretto/v2/z"
)

// TestBuilderTrimmerFindsThePool: the store reaches Badger's pool of
// table builders' allocators (a Badger that moved it fails here), and a
// trim leaves none of the allocators that were in it.
func TestBuilderTrimmerFindsThePool(t *testing.T) {
	s := openTest(t)
	if s.trimmer == nil {
		t.Fatal("no trimmer: badger.DB has no allocPool field of type *z.AllocatorPool")
	}
	s.trimmer.Stop() // trimmed by the test alone
	tr := &builderTrimmer{pool: s.trimmer.pool}
	s.trimmer = nil
	pool := tr.pool
	if n := tr.trim(); n != 0 {
		t.Fatalf("a trim of an empty pool found %d allocators", n)
	}
	kept := map[*z.Allocator]bool{}
	for range poolSize {
		a := z.NewAllocator(1<<20, "test")
		kept[a] = true
		pool.Return(a)
	}
	if n := tr.trim(); n != poolSize {
		t.Fatalf("a trim of a full pool found %d allocators, want %d", n, poolSize)
	}
	for range poolSize {
		a := pool.Get(0, "test")
		if kept[a] {
			t.Fatal("an allocator returned to the pool was still in it after a trim")
		}
		a.Release()
	}
}
