package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/delivery"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func init() {
	caddy.RegisterModule(new(App))
}

// Defaults of the app's configuration (docs/configuration.md, global options).
var (
	defaultRetry        = []caddy.Duration{caddy.Duration(time.Minute), caddy.Duration(5 * time.Minute), caddy.Duration(15 * time.Minute)}
	defaultTimeout      = caddy.Duration(10 * time.Second)
	defaultRateLimit    = "100/m"
	defaultDisableAfter = 20
	defaultRetention    = caddy.Duration(7 * 24 * time.Hour)
	defaultWorkers      = 16
)

// App is the `webhooks` app: it owns the store (a storage backend module;
// the embedded Badger one by default) that the handlers write inferred
// events to, and the settings of their delivery. Configure it
// with the `webhooks` global option; a handler provisions a default one when
// the config has none.
type App struct {
	// StorageRaw is the storage backend, a module of the webhooks.storage
	// namespace ({"backend": "badger", "dir": ...}); a JSON string is the
	// directory of the embedded Badger store, as configs have always given
	// it. Default: Badger in Caddy's data directory + /webhooks.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=webhooks.storage inline_key=backend"`
	// Retry is the list of delays before each retry; attempts = 1 + len(Retry).
	Retry []caddy.Duration `json:"retry,omitempty"`
	// Timeout bounds each delivery attempt.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// RateLimit is the default per-subscription rate, like "100/m".
	RateLimit string `json:"rate_limit,omitempty"`
	// DisableAfter is the number of consecutive failed deliveries after
	// which a subscription is paused.
	DisableAfter int `json:"disable_after,omitempty"`
	// Durability is "sync" (default: a client's response is released only
	// once its events are on disk) or "async" (faster; a crash may lose the
	// last events).
	Durability string `json:"durability,omitempty"`
	// AllowPrivateTargets allows deliveries to loopback, private and
	// link-local addresses.
	AllowPrivateTargets bool `json:"allow_private_targets,omitempty"`
	// Proxy is the forward proxy deliveries go through: a URL
	// (http, https, socks5, socks5h; user:pass@ allowed, best as a
	// placeholder such as {env.PROXY_PASSWORD}), or "off" for none.
	// Default: the environment's HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
	Proxy string `json:"proxy,omitempty"`
	// Tracing makes each delivery attempt an OpenTelemetry span, exported
	// as Caddy's `tracing` handler exports its spans. Default: when the
	// http app has a `tracing` handler.
	Tracing *bool `json:"tracing,omitempty"`
	// Retention is how long events and finished deliveries are kept.
	Retention caddy.Duration `json:"retention,omitempty"`
	// Workers is the number of concurrent delivery workers.
	Workers int `json:"workers,omitempty"`
	// Subscriptions declared in config, by name.
	Subscriptions map[string]*SubscriptionConfig `json:"subscriptions,omitempty"`
	// EncryptionKey encrypts the Badger store at rest (the same as the
	// badger backend's encryption_key, given here): 16, 24 or 32 bytes as
	// hex or base64, best given as a placeholder such as {env.WEBHOOKS_KEY}.
	EncryptionKey string `json:"encryption_key,omitempty"`
	// EncryptionKeyFile is a file holding the key, instead of EncryptionKey.
	EncryptionKeyFile string `json:"encryption_key_file,omitempty"`

	durability webhook.Durability
	backend    storage.Backend
	logger     *zap.Logger
	ctx        caddy.Context
	// tracer is set by Start when the config traces (tracing.go) and
	// never changed after: a store opened later gives it to the
	// dispatcher from another goroutine, maybe after Cleanup.
	tracer         trace.Tracer
	tracerReleased atomic.Bool

	mu         sync.RWMutex
	shared     *shared       // set by Start
	store      storage.Store // set once open; kept after Cleanup (see there)
	dispatcher *delivery.Dispatcher
	started    bool         // holds a reference in stores
	startedAt  time.Time    // when Start ran; orders configs in Stop
	catalogs   []*rules.Set // rule sets of the handlers of this config
	learner    *Learner     // set when a handler of this config learns

	// startedC is closed once Start has run (or Cleanup, for a config
	// that never starts): see waitStarted. Nil for an App made by a test.
	startedC    chan struct{}
	startedOnce sync.Once
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision applies defaults and placeholders. It does not open the store:
// that happens in Start, so that `caddy validate` of a config whose storage
// a running server has locked still succeeds.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.ctx = ctx
	registerMetrics(ctx.GetMetricsRegistry())
	repl := caddy.NewReplacer()
	if err := a.provisionStorage(ctx); err != nil {
		return err
	}
	if a.Retry == nil {
		a.Retry = defaultRetry
	}
	if a.Timeout == 0 {
		a.Timeout = defaultTimeout
	}
	a.RateLimit = repl.ReplaceKnown(a.RateLimit, "")
	a.Proxy = repl.ReplaceKnown(a.Proxy, "")
	if a.RateLimit == "" {
		a.RateLimit = defaultRateLimit
	}
	if a.DisableAfter == 0 {
		a.DisableAfter = defaultDisableAfter
	}
	if a.Retention == 0 {
		a.Retention = defaultRetention
	}
	if a.Workers == 0 {
		a.Workers = defaultWorkers
	}
	a.provisionSubscriptions(repl)
	a.startedC = make(chan struct{})
	switch a.Durability {
	case "", "sync":
		a.durability = webhook.Sync
	case "async":
		a.durability = webhook.Async
	}
	return nil
}

// Validate checks the settings.
func (a *App) Validate() error {
	if a.Durability != "" && a.Durability != "sync" && a.Durability != "async" {
		return fmt.Errorf("webhooks: durability: %q is neither sync nor async", a.Durability)
	}
	for i, d := range a.Retry {
		if d <= 0 {
			return fmt.Errorf("webhooks: retry[%d]: delay must be positive, got %s", i, time.Duration(d))
		}
	}
	if a.Timeout < 0 {
		return fmt.Errorf("webhooks: timeout must be positive, got %s", time.Duration(a.Timeout))
	}
	if _, err := webhook.ParseRate(a.RateLimit); err != nil {
		return fmt.Errorf("webhooks: rate_limit: %w", err)
	}
	if a.DisableAfter < 0 {
		return fmt.Errorf("webhooks: disable_after must be positive, got %d", a.DisableAfter)
	}
	if a.Retention < 0 {
		return fmt.Errorf("webhooks: retention must be positive, got %s", time.Duration(a.Retention))
	}
	if a.Workers < 0 {
		return fmt.Errorf("webhooks: workers must be positive, got %d", a.Workers)
	}
	if a.Proxy != "" && a.Proxy != delivery.ProxyOff {
		if _, err := delivery.ParseProxy(a.Proxy); err != nil {
			return fmt.Errorf("webhooks: proxy: %w", err)
		}
	}
	return a.validateSubscriptions(nil)
}

// stores holds one open Badger database per directory for the whole
// process. Caddy provisions and starts a new config before it stops the old
// one, and Badger locks its directory, so a reload must share the database
// rather than reopen it.
var stores = caddy.NewUsagePool()

// Start opens (or shares) the store. On a disk short of space it is not
// opened (Badger would crash the process in the attempt): Caddy starts and
// serves anyway, the events are skipped, and the store opens by itself
// once there is room (see shared.openLater).
func (a *App) Start() error {
	defer a.markStarted()
	if err := a.startTracing(); err != nil {
		return err
	}
	val, _, err := stores.LoadOrNew(a.backend.PoolKey(), func() (caddy.Destructor, error) {
		return openShared(a.backend, a.logger)
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	sh := val.(*shared)
	a.mu.Lock()
	a.shared = sh
	a.started = true
	a.mu.Unlock()
	a.startedAt = time.Now()
	if err := a.backend.Compatible(sh.backend); err != nil {
		return fmt.Errorf("webhooks: %w", err) // Caddy then cleans up
	}
	if !sh.openOrWait(a) {
		return nil // adopted when the store opens
	}
	return a.adopt(sh)
}

// adopt makes the open store this config's: its subscriptions are synced
// and the one dispatcher of the store takes this config's settings.
func (a *App) adopt(sh *shared) error {
	store, dispatcher := sh.get()
	a.mu.Lock()
	a.store, a.dispatcher = store, dispatcher
	a.mu.Unlock()
	store.Configure(a.storeSettings())
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	subsSync.Lock()
	err := a.syncRecorded(ctx, store)
	subsSync.Unlock()
	if errors.Is(err, webhook.ErrUnavailable) {
		// Short of space, or a cluster not answering yet: the config
		// still serves, and its subscriptions are synced once the store
		// takes writes again.
		a.logger.Error("config subscriptions not synced yet: the store takes no writes; trying again", zap.Error(err))
		go a.syncLater(store, syncRetryFirst)
	} else if err != nil {
		return err // Caddy then cleans up, releasing the store
	}
	dispatcher.Configure(a.deliverySettings(), a.logger.Named("delivery"))
	return nil
}

// syncTimeout bounds the store calls that sync the config's subscriptions
// when a config starts or stops, so that a store out of reach cannot hang
// a reload.
const syncTimeout = time.Minute

// storeSettings are the app's settings of the store.
func (a *App) storeSettings() storage.Settings {
	return storage.Settings{Retention: time.Duration(a.Retention), Durability: a.durability, NotStored: a.notStored}
}

// notStored logs the events of an asynchronous commit that failed, whole,
// and counts them.
func (a *App) notStored(events []webhook.Event, err error) {
	logNotStored(a.logger, events, err)
}

// Health says whether the store takes writes, and why not.
func (a *App) Health() webhook.Health {
	a.mu.RLock()
	sh := a.shared
	a.mu.RUnlock()
	if sh == nil {
		return webhook.Health{Status: "degraded", Reason: "the webhooks app is not running"}
	}
	return sh.health()
}

// deliverySettings are the app's settings for the dispatcher.
func (a *App) deliverySettings() delivery.Settings {
	retry := make([]time.Duration, len(a.Retry))
	for i, d := range a.Retry {
		retry[i] = time.Duration(d)
	}
	return delivery.Settings{
		Retry: retry, Timeout: time.Duration(a.Timeout), RateLimit: a.RateLimit,
		DisableAfter: a.DisableAfter, AllowPrivateTargets: a.AllowPrivateTargets,
		Workers: a.Workers, Proxy: a.Proxy, Tracer: a.tracer,
	}
}

// Dispatcher returns the delivery dispatcher of the app's store, or nil
// before Start.
func (a *App) Dispatcher() *delivery.Dispatcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.dispatcher
}

// Stop leaves the store open until Cleanup: Caddy stops its apps in no
// fixed order, and requests still draining from the HTTP app must be able
// to store their events.
//
// If this app belongs to a new config that failed to start (another of its
// apps failed), the config still serving is older than this one: its
// settings of the store and of the dispatcher, and its config
// subscriptions, are put back, undoing what Start changed.
func (a *App) Stop() error {
	active := Active()
	if active == nil || active == a || !active.startedAt.Before(a.startedAt) {
		return nil
	}
	if dispatcher := active.Dispatcher(); dispatcher != nil {
		dispatcher.Configure(active.deliverySettings(), active.logger.Named("delivery"))
	}
	if store := active.Store(); store != nil {
		store.Configure(active.storeSettings())
		ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
		defer cancel()
		subsSync.Lock()
		defer subsSync.Unlock()
		if err := active.syncRecorded(ctx, store); err != nil {
			return fmt.Errorf("webhooks: restoring the running config's subscriptions: %w", err)
		}
	}
	return nil
}

// Cleanup releases this config's use of the store once every app of the
// config has stopped; the last config using it closes it. On a reload the
// old config's requests may still be draining (Caddy does not wait for them
// unless the process exits): they keep writing to the store, which the new
// config holds open.
func (a *App) Cleanup() error {
	a.markStarted() // nothing waits for a config that is gone
	a.stopTracing()
	a.mu.Lock()
	had, sh := a.started, a.shared
	a.started = false
	a.mu.Unlock()
	if !had {
		return nil
	}
	sh.forget(a)
	if _, err := stores.Delete(a.backend.PoolKey()); err != nil {
		return fmt.Errorf("webhooks: closing store %s: %w", a.backend.PoolKey(), err)
	}
	return nil
}

// startWait bounds how long a request waits for its config's webhooks
// app to start: Caddy starts a config's apps in no fixed order, so its
// HTTP servers may take requests before this app has opened (or shared)
// its store, which takes milliseconds for Badger and up to a few seconds
// for a cluster to answer.
const startWait = 10 * time.Second

// waitStarted waits until Start has run, at most startWait or until ctx
// is done, so that the events of a request that came first are stored
// rather than skipped.
func (a *App) waitStarted(ctx context.Context) {
	if a.startedC == nil {
		return
	}
	select {
	case <-a.startedC:
		return
	default:
	}
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-a.startedC:
	case <-t.C:
	case <-ctx.Done():
	}
}

func (a *App) markStarted() {
	if a.startedC != nil {
		a.startedOnce.Do(func() { close(a.startedC) })
	}
}

// commit stores events and resource snapshots in this config's store.
func (a *App) commit(ctx context.Context, events []webhook.Event, snaps []webhook.Snapshot) error {
	a.waitStarted(ctx)
	store := a.Store()
	if store == nil {
		return fmt.Errorf("%w (%s)", webhook.ErrClosed, a.Health().Reason)
	}
	return store.Commit(ctx, events, snaps)
}

// Store returns the open store, or nil when the app is not running.
func (a *App) Store() storage.Store {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.store
}

// DefaultRateLimit is the rate limit of subscriptions that set none.
func (a *App) DefaultRateLimit() string { return a.RateLimit }

// SendTest sends a webhook.test event to sub at once, through the store's
// dispatcher.
func (a *App) SendTest(ctx context.Context, sub *webhook.Subscription) delivery.TestResult {
	d := a.Dispatcher()
	if d == nil {
		return delivery.TestResult{Error: "the webhooks store is not open: " + a.Health().Reason}
	}
	return d.SendTest(ctx, sub)
}

// Events returns the events that the rules of this config can emit.
func (a *App) Events() []rules.EventInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	seen := map[string]bool{}
	var out []rules.EventInfo
	for _, set := range a.catalogs {
		for _, ev := range set.Events() {
			if !seen[ev.Name] {
				seen[ev.Name] = true
				out = append(out, ev)
			}
		}
	}
	slices.SortFunc(out, func(x, y rules.EventInfo) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// addRules records a handler's rule set for the event catalogue.
func (a *App) addRules(set *rules.Set) {
	a.mu.Lock()
	a.catalogs = append(a.catalogs, set)
	a.mu.Unlock()
}

// Learner returns learn mode's model and counts, nil when no handler of
// this config learns.
func (a *App) Learner() *Learner {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.learner
}

// Active returns the webhooks app of the config Caddy is serving, or nil.
// Admin routes, which Caddy builds without access to apps, find the store
// through it. It asks Caddy's active context rather than remembering the
// last app started: a reload that fails after its webhooks app started
// leaves the old config serving.
func Active() *App {
	a, err := caddy.ActiveContext().AppIfConfigured("webhooks")
	if err != nil {
		return nil
	}
	app, _ := a.(*App)
	return app
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
