package badgerstore

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Badger builds every table (a memtable's flush, a compaction's output) in
// a z.Allocator and then keeps up to eight of them for the next builds, in
// a pool it makes with a fixed size (z.NewAllocatorPool(8) in badger.Open,
// no option for it). An allocator keeps the buffers of the largest table
// it built, ~15 MiB after the flush of an 8 MiB memtable, and the pool lets
// one go only after 2 s without any build: under steady writes, the pool
// held most of the live heap (82 of 102 MiB holding 100k deliveries, and
// twice that in RSS once the Go heap grows to its goal). A build that
// finds the pool empty makes a new allocator, sized for its table, which
// is garbage once the table is written.
//
// builderTrimmer empties the pool a few times a second through the pool's
// own Get and Release, so the buffers of a build are freed soon after it,
// at the cost of allocating them again for the next one (draining 100k
// deliveries stayed above 6,000/s: bench/README.md). The pool is reached
// through an unexported field of badger.DB, read once after Open:
// TestBuilderTrimmerFindsThePool fails if a new Badger moves it, and
// without it the store works as before.

// trimEvery is how often the pool is emptied while builds go on: a build
// that follows another within it reuses its buffers. While the pool is
// found empty the wait doubles up to trimIdle, so an idle store does not
// wake (and allocate) ten times a second.
const (
	trimEvery = 100 * time.Millisecond
	trimIdle  = 5 * time.Second
)

// builderTrimmer empties a Badger allocator pool until stopped.
type builderTrimmer struct {
	pool *z.AllocatorPool
	stop chan struct{}
	done sync.WaitGroup
}

// startBuilderTrimmer starts emptying db's allocator pool; it returns nil
// when db has none where it is looked for.
func startBuilderTrimmer(db *badger.DB) *builderTrimmer {
	pool := allocatorPool(db)
	if pool == nil {
		return nil
	}
	t := &builderTrimmer{pool: pool, stop: make(chan struct{})}
	t.done.Go(t.run)
	return t
}

// allocatorPool reads db's allocator pool (nil if this Badger has no such
// field). The field is written once, in Open, before Open returns.
func allocatorPool(db *badger.DB) *z.AllocatorPool {
	f := reflect.ValueOf(db).Elem().FieldByName("allocPool")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*z.AllocatorPool]() {
		return nil
	}
	return *(**z.AllocatorPool)(unsafe.Pointer(f.UnsafeAddr())) //nolint:gosec // G103: reading Badger's unexported pool, see above
}

func (t *builderTrimmer) run() {
	wait := trimEvery
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-timer.C:
		}
		if t.trim() > 0 {
			wait = trimEvery
		} else {
			wait = min(2*wait, trimIdle)
		}
		timer.Reset(wait)
	}
}

// trim takes the allocators out of the pool and releases them, and says
// how many it found. The pool's Get makes a new, smallest, allocator once
// it is empty, which tells the end.
func (t *builderTrimmer) trim() int {
	for n := range poolSize {
		a := t.pool.Get(0, "trimmed")
		pooled := a.Allocated() > newAllocatorSize
		a.Release()
		if !pooled {
			return n
		}
	}
	return poolSize
}

const (
	poolSize         = 8   // the capacity of Badger's pool
	newAllocatorSize = 512 // what z.NewAllocator allocates at the least
)

// Stop stops the trimmer; it must be called before the database is
// closed (closing it closes the pool, which Get must not meet). Safe on
// nil.
func (t *builderTrimmer) Stop() {
	if t == nil {
		return
	}
	close(t.stop)
	t.done.Wait()
}
