package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Key family prefixes; see the package documentation.
var (
	prefixEvent = []byte("e/")
)

// Options configures Open.
type Options struct {
	// Dir is the Badger directory; it is created if missing.
	Dir string
	// Logger receives the store's log lines, and Badger's own (named
	// "badger"); nil discards them.
	Logger *zap.Logger
	// Reserve is the free space below which the store stops writing (see
	// space.go); 0 means what Badger's settings need (Reserve()).
	Reserve uint64
	// OnHealth, if set, is told when the store stops or resumes writing
	// for lack of space.
	OnHealth func(webhook.Health)
	// EncryptionKey, if set (16, 24 or 32 bytes: AES-128, -192 or -256),
	// encrypts the store at rest; see encryption.go.
	EncryptionKey []byte

	// commitLogSize bounds the commit log (commitlog.go); 0 means
	// commitLogSize. Tests make it small.
	commitLogSize int64
}

// Store is an open Badger database. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	dir     string
	trimmer *builderTrimmer // frees Badger's table builders' buffers (builders.go)

	// commitQ feeds the committer (commit.go), and syncQ its syncer; once
	// Close has closed commitQ, both drain, and committerDone is closed.
	commitQ       chan *pending
	syncQ         chan written
	committerDone chan struct{}

	commits  atomic.Uint64 // commits made that want to be durable
	syncMu   sync.Mutex
	syncedTo uint64      // commits covered by the last fsync
	logs     *sealedLogs // syncs the logs DB.Sync leaves out (logsync.go)
	// clog makes synced commits durable (commitlog.go); nil in an
	// encrypted store.
	clog *commitLog
	// valueThreshold is Badger's: values this long or longer may go to
	// its value log.
	valueThreshold int

	// mu makes Close wait for the operations in progress and later ones
	// fail with ErrClosed: requests of an old config may still be
	// draining when the last config using the store lets it go.
	mu     sync.RWMutex
	closed bool

	// subs is a snapshot of every subscription, read by the fan-out of
	// each request's events without decoding them from Badger; every
	// write of a subscription goes through the store and refreshes it.
	subs   atomic.Pointer[[]*webhook.Subscription]
	subsMu sync.Mutex // orders snapshot updates
	// wakeC tells the dispatcher that deliveries became due, and hints
	// (under hintsMu) for which subscriptions from when: see dueNotes.
	wakeC   chan struct{}
	hintsMu sync.Mutex
	hints   dueTimes
	// taker takes the deliveries commits lease to it (HandOff).
	taker atomic.Pointer[takerBox]
	// queued is the queue depth (see QueueDepth): counted at Open, then
	// moved by each committed transaction's change to the due index.
	queued atomic.Int64

	settings atomic.Pointer[storage.Settings] // see Configure

	locks   keyLocks // see LockKeys
	space   *spaceGuard
	cursors cursors // see Claim
	logger  *zap.Logger
}

// Configure sets the retention and durability of the commits and updates
// that follow, and whom to tell of failed asynchronous commits.
func (s *Store) Configure(set storage.Settings) { s.settings.Store(&set) }

func (s *Store) config() storage.Settings {
	if set := s.settings.Load(); set != nil {
		return *set
	}
	return storage.Settings{}
}

// use runs fn unless the store is closed or ctx is done, keeping Close out
// meanwhile. Badger itself takes no context: an operation, once started,
// runs to its end.
func (s *Store) use(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return webhook.ErrClosed
	}
	return fn()
}

// write is use for a write of about n bytes: it is refused with ErrNoSpace
// rather than let Badger write where the disk has no room.
func (s *Store) write(ctx context.Context, n int, fn func() error) error {
	return s.use(ctx, func() error {
		if err := s.space.allow(n); err != nil {
			return err
		}
		return fn()
	})
}

// update is write for one read-modify-write transaction: fn runs again,
// in a fresh transaction, while Badger reports a conflict with a
// concurrent one (and ctx is not done).
func (s *Store) update(ctx context.Context, n int, fn func(txn *badger.Txn) error) error {
	return s.write(ctx, n, func() error {
		for {
			err := s.db.Update(fn)
			if !errors.Is(err, badger.ErrConflict) {
				return err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%w (after a write conflict)", ctx.Err())
			}
		}
	})
}

// Rough sizes of writes, for the space guard: an overestimate only makes
// the store stop a little earlier.
const (
	deliverySize     = 2 << 10
	subscriptionSize = 8 << 10
)

// Room to encode a record in one allocation: an event's fields but its
// data, a new delivery (attempts make it grow).
const (
	eventJSONSize    = 256
	deliveryJSONSize = 384
)

// Open opens (or creates) the store in opts.Dir. Badger locks the directory:
// a process must open a directory once and share the Store.
func Open(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	bo := badgerOptions(opts)
	reserve := opts.Reserve
	if reserve == 0 {
		reserve = reserveFor(bo)
	}
	space := newSpaceGuard(opts.Dir, reserve, opts.OnHealth)
	// Opening writes too (a new write-ahead log, the manifest): on a full
	// disk it would crash the process, so it is not tried.
	if h := space.Health(); h.Degraded() {
		return nil, fmt.Errorf("opening webhooks store %s: %w: %s", opts.Dir, ErrNoSpace, h.Reason)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("opening webhooks store %s: %w", opts.Dir, explainKeyMismatch(opts.Dir, opts.EncryptionKey, err))
	}
	s := &Store{db: db, dir: opts.Dir, wakeC: make(chan struct{}, 1), space: space, logger: opts.Logger,
		commitQ: make(chan *pending, commitQueue), syncQ: make(chan written, syncQueue), committerDone: make(chan struct{}),
		valueThreshold: int(bo.ValueThreshold)}
	if err := s.refreshSubscriptions(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening webhooks store %s: %w", opts.Dir, err)
	}
	if s.logs, err = openSealedLogs(opts.Dir, fsyncFile); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening webhooks store %s: %w", opts.Dir, err)
	}
	if opts.EncryptionKey == nil {
		if err := s.recoverCommits(opts); err != nil {
			db.Close()
			return nil, fmt.Errorf("opening webhooks store %s: %w", opts.Dir, err)
		}
	}
	s.trimmer = startBuilderTrimmer(db)
	s.queued.Store(countDue(db))
	go s.runCommitter()
	go s.runSyncer()
	return s, nil
}

// Badger's memory for a sidecar: what it holds grows with these, not with
// the backlog (a queue of a million deliveries stays on disk). The tables
// are memory-mapped, so the pages of the store's files that were read or
// written recently count in the process's RSS too (as file pages the
// kernel may drop at will): compression keeps those few.
const (
	// memTableSize bounds each memtable (Badger allocates a skiplist arena
	// of about 1.3× this for each) and so each level-0 table, whose
	// builder holds it whole while it is flushed (~15 MiB of buffers,
	// freed soon after: builders.go). 8 MiB is the smallest that keeps
	// Badger's default value threshold (values up to 1 MiB are stored in
	// the tree, not in value log files, which this store never
	// garbage-collects): a transaction may carry 15% of it.
	memTableSize = 8 << 20
	// numMemtables: the one being written and one being flushed before
	// writes wait. Each arena is live heap while it exists, and the Go
	// heap grows to twice what is live: a third one would cost ~20 MiB of
	// RSS at the moments a flush lags, for writes that wait a little less.
	numMemtables = 2
	// baseTableSize is the size of every table below level 0: the
	// multiplier is 1, where Badger's default doubles it at each deeper
	// level (16 MiB tables at a million deliveries). Compactions build
	// their tables in buffers of twice this, a dozen at a time (Badger's
	// pool would keep eight of them, each as large as the largest table it
	// built: builders.go empties it). 512 KiB tables measured no better,
	// and each table's index costs a 3 MiB builder.
	baseTableSize = 1 << 20
	// blockCacheSize holds decompressed (and decrypted) blocks; indexes
	// are read in place unless the store is encrypted.
	blockCacheSize      = 8 << 20
	encryptedIndexCache = 4 << 20
)

// badgerOptions are Badger's settings for a webhook queue.
func badgerOptions(opts Options) badger.Options {
	bo := badger.DefaultOptions(opts.Dir).
		// Commits are not fsynced one by one: synced events go to the
		// commit log (commitlog.go), and what else must be durable (an
		// admin change, a full commit log) calls syncCommitted, which
		// covers every commit made so far with one fsync. Delivery
		// bookkeeping is not synced: lost on a crash, it means a
		// delivery sent again.
		WithSyncWrites(false).
		WithLogger(badgerLogger{opts.Logger.Named("badger").Sugar()}).
		// The defaults are sized for large databases (64 MiB memtables,
		// 1 GiB value log files, 256 MiB block cache); a webhook queue is
		// small, and a sidecar should not take that much memory.
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithBaseTableSize(baseTableSize).
		WithValueLogFileSize(64 << 20).
		// Snappy (the default) makes the JSON records 2.5 times smaller on
		// disk, and so in the mapped pages, which count in RSS once
		// written. Uncompressed, the Go heap held 40-60% less (builders
		// hold no compressed copies, blocks are read in place) but the
		// mapped pages grew by as much at 100k pending deliveries, and by
		// far more at 1M (RSS 870 MiB against 554: bench/README.md).
		WithCompression(options.Snappy).
		WithBlockCacheSize(blockCacheSize).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithEncryptionKey(opts.EncryptionKey).
		WithEncryptionKeyRotationDuration(DataKeyRotation)
	bo.TableSizeMultiplier = 1 // no With… for it
	if len(opts.EncryptionKey) > 0 {
		// Encrypted indexes must be decrypted to be read: Badger then
		// needs a cache for them.
		bo = bo.WithIndexCacheSize(encryptedIndexCache)
	}
	return bo
}

// reserveFor is the free space Badger may still need once the store stops
// writing: flushing every memtable to a level-0 table, and one compaction
// of a full level 0 into level 1 (its old tables are deleted only after).
func reserveFor(bo badger.Options) uint64 {
	return uint64(bo.NumMemtables+bo.NumLevelZeroTables) * uint64(bo.MemTableSize) //nolint:gosec // G115: Badger's counts and sizes are positive
}

// Health says whether the store accepts writes (it stops while its
// filesystem is short of space, and resumes by itself).
func (s *Store) Health() webhook.Health { return s.space.Health() }

// Wake returns a channel that receives when new deliveries are due.
func (s *Store) Wake() <-chan struct{} { return s.wakeC }

// dueHints returns, and forgets, the earliest due time given to each
// subscription's deliveries by the transactions committed since the last
// call. Read before a scan, they tell the scan where to start: a delivery
// committed after the call is in the next call's hints.
func (s *Store) dueHints() map[string]time.Time {
	s.hintsMu.Lock()
	defer s.hintsMu.Unlock()
	h := s.hints
	s.hints = nil
	return h
}

// noteDue records a committed transaction's due times for dueHints,
// wakes the dispatcher, and hands the deliveries leased to the taker over.
func (s *Store) noteDue(notes *dueNotes) {
	if len(notes.handed) > 0 {
		notes.taker.Take(notes.handed)
	}
	if len(notes.due) == 0 {
		return
	}
	s.hintsMu.Lock()
	if s.hints == nil {
		s.hints = dueTimes{}
	}
	for sub, t := range notes.due {
		s.hints.add(sub, t)
	}
	s.hintsMu.Unlock()
	s.wake()
}

func (s *Store) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Close waits for the operations in progress, then flushes and closes the
// database. Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.commitQ) // no Commit is in progress: the committer drains what is queued (asynchronous commits)
	<-s.committerDone
	s.trimmer.Stop()
	if s.clog != nil {
		_ = s.clog.Close() // written only with its syncs, which all ended
	}
	// Closing flushes the memtables into new tables: on a disk with no room
	// left that write would crash the process. Left open, the store is
	// as after a kill -9, which loses nothing: its write-ahead log is
	// replayed at the next start. It is closed once there is room, which
	// releases the directory for another Open in this process.
	if h := s.space.Health(); !s.roomToClose(h) {
		go s.closeWhenRoom()
		return fmt.Errorf("webhooks store %s left unflushed (replayed at the next start): %w: %s", s.dir, ErrNoSpace, h.Reason)
	}
	return s.db.Close()
}

// closeRetryEvery is how often a store left unflushed by Close looks for
// room to close.
const closeRetryEvery = time.Second

func (s *Store) roomToClose(h webhook.Health) bool { return h.FreeBytes >= s.space.reserve/2 }

// closeWhenRoom closes the database that Close left open, once its disk
// has room for the flush.
func (s *Store) closeWhenRoom() {
	t := time.NewTicker(closeRetryEvery)
	defer t.Stop()
	for range t.C {
		if s.roomToClose(s.space.Health()) {
			_ = s.db.Close() // nobody is left to tell; Close already said why it waited
			return
		}
	}
}

// ErrStop may be returned by a callback to end a scan early without error.
var ErrStop = errors.New("stop")

// eventsPage is how many events EventsSince reads at a time. fn runs
// between reads, outside the store's lock: it may call the store (a replay
// queues deliveries as it reads), and Close does not wait for it.
const eventsPage = 256

// EventsSince calls fn for each stored event inferred at or after since, in
// time order, until fn returns an error (ErrStop ends the scan cleanly).
func (s *Store) EventsSince(ctx context.Context, since time.Time, fn func(webhook.Event) error) error {
	from := key(prefixEvent, webhook.IDAt("evt_", since))
	for from != nil {
		var page []webhook.Event
		err := s.use(ctx, func() (err error) {
			page, from, err = s.readEvents(ctx, from, since)
			return err
		})
		if err != nil {
			return err
		}
		for _, ev := range page {
			if err := fn(ev); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
	}
	return nil
}

// readEvents reads up to eventsPage events inferred at or after since,
// from the key from on, and returns the key the next page starts from
// (nil: there is none).
func (s *Store) readEvents(ctx context.Context, from []byte, since time.Time) ([]webhook.Event, []byte, error) {
	var page []webhook.Event
	var next []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixEvent, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(from); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(page) == eventsPage {
				next = it.Item().KeyCopy(nil)
				return nil
			}
			var ev webhook.Event
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
				return fmt.Errorf("reading event %s: %w", it.Item().Key(), err)
			}
			if !ev.Time.Before(since) {
				page = append(page, ev)
			}
		}
		return nil
	})
	return page, next, err
}

// key joins a family prefix and an id.
func key(prefix []byte, id string) []byte {
	return append(bytes.Clone(prefix), id...)
}

// badgerLogger adapts zap's sugared logger to Badger's Logger interface.
type badgerLogger struct{ *zap.SugaredLogger }

func (l badgerLogger) Warningf(format string, args ...any) { l.Warnf(format, args...) }
