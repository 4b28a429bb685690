package caddymodule

import (
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/delivery"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// reopenEvery is how often a store that could not be opened for lack of
// space is tried again.
const reopenEvery = 2 * time.Second

// shared is what one store holds for the whole process: the store and the
// single set of delivery workers that drains it. A store that could not be
// opened for now (a full disk) is opened later, by itself.
type shared struct {
	backend storage.Backend // the config's backend that opened it
	logger  *zap.Logger

	mu         sync.Mutex
	store      storage.Store
	dispatcher *delivery.Dispatcher
	notOpen    error  // why store is nil
	waiters    []*App // configs started before the store opened, oldest first
	adopting   bool   // openLater is handing the store to waiters
	stop       chan struct{}
	later      sync.WaitGroup // openLater; Destruct waits for it
}

// openShared opens the backend's store. A store unavailable for now (its
// disk short of space) is not an error: it opens later (openLater) and
// until then is degraded.
func openShared(backend storage.Backend, logger *zap.Logger) (*shared, error) {
	sh := &shared{backend: backend, logger: logger, stop: make(chan struct{})}
	processMemory.acquire(logger) // once per store, not at every reload
	err := sh.open()
	if errors.Is(err, webhook.ErrUnavailable) {
		logger.Error("webhooks store not opened: it is unavailable for now (see the error); events are skipped until it opens, which is tried every 2s",
			append(backend.Describe(), zap.Error(err))...)
		storeDegraded.Set(1)
		sh.goOpenLater()
		return sh, nil
	}
	if err != nil {
		processMemory.release()
		return nil, err
	}
	return sh, nil
}

func (sh *shared) open() error {
	s, err := sh.backend.Open(sh.logger, sh.healthChanged)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if err != nil {
		sh.notOpen = err
		return err
	}
	select {
	case <-sh.stop: // no config uses it any more
		return s.Close()
	default:
	}
	sh.store, sh.dispatcher, sh.notOpen = s, delivery.New(s), nil
	sh.adopting = len(sh.waiters) > 0 // configs starting meanwhile queue behind them
	storeDegraded.Set(0)
	sh.logger.Info("webhooks store opened", sh.backend.Describe()...)
	return nil
}

// goOpenLater runs openLater in the background; Destruct waits for it.
func (sh *shared) goOpenLater() {
	sh.later.Add(1)
	go func() {
		defer sh.later.Done()
		sh.openLater()
	}()
}

// openLater tries to open the store until it opens or the last config
// using it goes; the config then serving adopts it.
func (sh *shared) openLater() {
	t := time.NewTicker(reopenEvery)
	defer t.Stop()
	for {
		select {
		case <-sh.stop:
			return
		case <-t.C:
		}
		if err := sh.open(); err != nil {
			if !errors.Is(err, webhook.ErrUnavailable) {
				sh.logger.Error("opening the webhooks store", append(sh.backend.Describe(), zap.Error(err))...)
			}
			continue
		}
		sh.adoptWaiters()
		return
	}
}

// adoptWaiters hands the open store to the last config started that is
// still there (an older one if the newest failed to start and was cleaned
// up), then to any config that started meanwhile, in order, so that the
// last config started has the last word.
func (sh *shared) adoptWaiters() {
	for {
		sh.mu.Lock()
		if len(sh.waiters) == 0 {
			sh.adopting = false
			sh.mu.Unlock()
			return
		}
		app := sh.waiters[len(sh.waiters)-1]
		sh.waiters = nil
		sh.mu.Unlock()
		if err := app.adopt(sh); err != nil {
			sh.logger.Error("adopting the webhooks store", zap.Error(err))
		}
	}
}

// openOrWait reports whether the store is open and app may adopt it now;
// if not, app adopts it once it opens (the last config started wins).
func (sh *shared) openOrWait(app *App) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.store != nil && !sh.adopting {
		return true
	}
	sh.waiters = append(sh.waiters, app)
	return false
}

// forget drops app from the configs waiting for the store.
func (sh *shared) forget(app *App) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.waiters = slices.DeleteFunc(sh.waiters, func(w *App) bool { return w == app })
}

func (sh *shared) get() (storage.Store, *delivery.Dispatcher) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.store, sh.dispatcher
}

// health is the store's, or why it is not open.
func (sh *shared) health() webhook.Health {
	sh.mu.Lock()
	store, why := sh.store, sh.notOpen
	sh.mu.Unlock()
	if store == nil {
		return webhook.Health{Status: "degraded", Reason: "the store is not open: " + why.Error()}
	}
	return store.Health()
}

// healthChanged logs and counts the store stopping or resuming writes.
func (sh *shared) healthChanged(h webhook.Health) {
	fields := sh.backend.Describe()
	if h.DiskSpace != nil {
		fields = append(fields, zap.Uint64("free_bytes", h.FreeBytes), zap.Uint64("reserve_bytes", h.ReserveBytes))
	}
	if h.Degraded() {
		storeDegraded.Set(1)
		sh.logger.Error("webhooks store degraded: writes stopped, events are skipped until it takes writes again",
			append(fields, zap.String("reason", h.Reason))...)
		return
	}
	storeDegraded.Set(0)
	sh.logger.Info("webhooks store writable again", fields...)
}

// Destruct stops the workers, then closes the store. It first waits for
// openLater: a store it is opening or handing over is stopped after that,
// not while (and not left open for the next config to find locked).
func (sh *shared) Destruct() error {
	defer processMemory.release()
	sh.mu.Lock()
	close(sh.stop)
	sh.mu.Unlock()
	sh.later.Wait()
	sh.mu.Lock()
	store, dispatcher := sh.store, sh.dispatcher
	sh.mu.Unlock()
	if store == nil {
		return nil
	}
	dispatcher.Stop()
	return store.Close()
}
