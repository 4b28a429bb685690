package natsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Store is the NATS JetStream store: one connection, the buckets under the
// prefix, and what this node follows in memory (the subscriptions and the
// due index). It is safe for concurrent use.
type Store struct {
	cfg    settings
	logger *zap.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	ledger jetstream.Stream // KV_<prefix>, written and read as a stream
	b      *buckets

	settings atomic.Pointer[storage.Settings] // see Configure

	// owns says whether this node claims a subscription's deliveries:
	// those it owns (owners.go), so that one node at a time sends to a
	// subscription and its rate window is the cluster's.
	owns func(ctx context.Context, subID string) bool

	subs   *subsCache
	index  *dueIndex
	recent *recent
	group  group // see group.go
	locks  *keyLocks
	health *healthState
	view   clusterView
	wakeC  chan struct{}

	orphans orphans // see sweepOrphans

	// mu guards closed; ops counts the operations in progress, which
	// Close waits for; closing is done when Close starts, so that
	// blocked operations give up.
	mu      sync.RWMutex
	closed  bool
	ops     sync.WaitGroup
	closing context.Context
	close   context.CancelFunc
	stop    []func() // watchers and loops to stop at Close
}

// Open connects to the servers, makes the buckets and starts following
// the subscriptions and the ledger. An unreachable cluster is an error
// matching webhook.ErrUnavailable.
func (b *Backend) Open(logger *zap.Logger, onHealth func(webhook.Health)) (storage.Store, error) {
	return open(b.cfg, logger, onHealth)
}

// openTimeout bounds what Open waits for: the buckets, and the first
// reading of the subscriptions and of the ledger.
const openTimeout = 30 * time.Second

func open(cfg settings, logger *zap.Logger, onHealth func(webhook.Health)) (*Store, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	nc, err := cfg.connect(logger)
	if err != nil {
		return nil, err
	}
	s, err := start(cfg, logger, nc, onHealth)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.ops.Add(1)
	go s.checkSync()
	return s, nil
}

// checkSync logs whether the servers fsync every write, unless the store
// closes first.
func (s *Store) checkSync() {
	defer s.ops.Done()
	r, err := askSync(s.closing, s.nc, time.Second)
	if s.closing.Err() == nil {
		logSync(s.logger, r, err)
		s.view.noteSync(r, err)
	}
}

// start sets up the store on a connection.
func start(cfg settings, logger *zap.Logger, nc *nats.Conn, onHealth func(webhook.Health)) (*Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, unavailable("JetStream", err)
	}
	b, err := cfg.ensureBuckets(ctx, js)
	if err != nil {
		return nil, err
	}
	var ledger jetstream.Stream
	err = retrySetup(ctx, func(ctx context.Context) (err error) {
		ledger, err = js.Stream(ctx, "KV_"+cfg.prefix)
		return err
	})
	if err != nil {
		return nil, unavailable("stream KV_"+cfg.prefix, err)
	}
	s := &Store{
		cfg: cfg, logger: logger, nc: nc, js: js, ledger: ledger, b: b,
		locks: newKeyLocks(), recent: newRecent(), wakeC: make(chan struct{}, 1),
	}
	s.closing, s.close = context.WithCancel(context.Background())
	s.group.s = s
	s.health = newHealthState(onHealth)
	if err := s.startFollowing(ctx); err != nil {
		s.stopAll()
		return nil, err
	}
	return s, nil
}

// startFollowing starts the watches of the subscriptions and the ledger,
// and the health probe.
func (s *Store) startFollowing(ctx context.Context) error {
	subs, stopSubs, err := followSubs(ctx, s.b.subs, s.wake, s.logger)
	if err != nil {
		return unavailable("watching the subscriptions", err)
	}
	s.subs, s.stop = subs, append(s.stop, stopSubs)
	idx, stopIdx, err := watchLedger(ctx, s.js, s.cfg.prefix, s.wake, s.logger)
	if err != nil {
		return unavailable("watching the ledger", err)
	}
	s.index, s.stop = idx, append(s.stop, stopIdx)
	s.view.replicas = s.cfg.replicas
	s.view.observe(s.nc)
	s.stop = append(s.stop, s.health.probe(s.nc, s.ledger, s.logger, s.view.observe))
	own := startOwners(ctx, s.b.nodes, nodeName(), s.subIDs, s.wake, s.logger)
	s.owns, s.stop = own.settle, append(s.stop, own.Stop)
	return nil
}

// subIDs are the ids of every subscription, for ownership.
func (s *Store) subIDs() []string {
	subs := s.subs.all()
	ids := make([]string, len(subs))
	for i, sub := range subs {
		ids[i] = sub.ID
	}
	return ids
}

// nodeName names this process among the nodes: the host's name and a
// unique id, so that a restarted Caddy is a new node (the old one's
// heartbeat runs out) and two on one host differ.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "node"
	}
	return host + "-" + nuid.Next()
}

// stopAll stops the watches and loops and closes the connection.
func (s *Store) stopAll() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	s.nc.Close()
}

// Configure sets the retention and durability of the writes that follow.
func (s *Store) Configure(set storage.Settings) { s.settings.Store(&set) }

func (s *Store) config() storage.Settings {
	if set := s.settings.Load(); set != nil {
		return *set
	}
	return storage.Settings{}
}

// Health says whether the store takes writes (not while the connection is
// down or JetStream does not answer), with what this node sees of the
// cluster.
func (s *Store) Health() webhook.Health {
	h := s.health.get()
	h.Backend, h.Cluster = "nats", s.view.get()
	return h
}

// Wake receives when deliveries may have become due.
func (s *Store) Wake() <-chan struct{} { return s.wakeC }

func (s *Store) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Close waits for the operations in progress (those blocked give up),
// stops following the buckets and closes the connection. Closing twice
// is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.close()
	s.ops.Wait()
	s.stopAll()
	return nil
}

// enter counts an operation in, unless the store is closed.
func (s *Store) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.ops.Add(1)
	return true
}

// use runs fn with a context that ends with ctx or when the store
// closes, unless ctx is done already, the store is closed, or the cluster
// is out of reach (health degraded: see failoverWait).
func (s *Store) use(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return webhook.ErrClosed
	}
	defer s.ops.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closing, cancel)()
	err := s.health.ready(ctx)
	if err == nil {
		err = fn(ctx)
	}
	if err != nil && s.closing.Err() != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", webhook.ErrClosed, err)
	}
	return err
}

// natsError wraps what failed with its cause; a cause that means the
// cluster is out of reach (a timeout, no server, no JetStream) makes an
// error matching webhook.ErrUnavailable.
func natsError(what string, err error) error {
	if err == nil {
		return nil
	}
	if transient(err) {
		return &unavailableError{what: what, err: err}
	}
	return fmt.Errorf("storage nats: %s: %w", what, err)
}

// transient says whether err means "not now".
func transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code == 503 {
		return true
	}
	for _, e := range []error{nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrConnectionReconnecting,
		nats.ErrDisconnected, jetstream.ErrNoStreamResponse, jetstream.ErrJetStreamNotEnabled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// unavailableError is a failure that matches webhook.ErrUnavailable and
// its cause.
type unavailableError struct {
	what string
	err  error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("storage nats: %s: %v", e.what, e.err)
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == webhook.ErrUnavailable }

// withTimeout bounds a request whose context has no deadline.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, requestTimeout)
}

// Interface guards
var (
	_ storage.Backend = (*Backend)(nil)
	_ storage.Store   = (*Store)(nil)
)
