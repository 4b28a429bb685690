package caddymodule

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// unavailableStore refuses subscription writes as a store out of reach
// does (webhook.ErrUnavailable) until refuse reaches 0.
type unavailableStore struct {
	storage.Store
	refuse atomic.Int32
}

func (s *unavailableStore) PutSubscription(ctx context.Context, sub *webhook.Subscription) error {
	if s.refuse.Add(-1) >= 0 {
		return webhook.ErrUnavailable
	}
	return s.Store.PutSubscription(ctx, sub)
}

// syncLaterApp is an app declaring one subscription, on a store that
// refuses refuse subscription writes first.
func syncLaterApp(t *testing.T, refuse int32) (*App, *unavailableStore, context.CancelFunc) {
	t.Helper()
	bs, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	store := &unavailableStore{Store: bs}
	store.refuse.Store(refuse)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	app := &App{ctx: ctx, logger: zap.NewNop(), startedAt: time.Now(), Subscriptions: map[string]*SubscriptionConfig{
		"partner": {URL: "https://partner.example/hook", Events: []string{"*"}, Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	}}
	return app, store, cancel
}

// TestSyncLater: a config whose store did not take its subscriptions at
// start (a NATS cluster still electing its leaders) gets them once the
// store takes writes, without a reload.
func TestSyncLater(t *testing.T) {
	app, store, _ := syncLaterApp(t, 3)
	if err := app.syncSubscriptions(t.Context(), store); !errors.Is(err, webhook.ErrUnavailable) {
		t.Fatalf("the first sync: %v, want the store unavailable", err)
	}
	go app.syncLater(store, time.Millisecond)
	testbed.Eventually(t, 15*time.Second, "the config subscription stored", func() bool {
		subs, err := store.Subscriptions(t.Context())
		return err == nil && len(subs) == 1 && subs[0].AppName == "partner"
	})
}

// TestSyncLaterStopsWithItsConfig: once the config is unloaded, a late
// sync gives up rather than write a config that no longer runs.
func TestSyncLaterStopsWithItsConfig(t *testing.T) {
	app, store, unload := syncLaterApp(t, 1)
	unload()
	done := make(chan struct{})
	go func() { app.syncLater(store, time.Millisecond); close(done) }()
	testbed.Eventually(t, 15*time.Second, "syncLater returned", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	if subs, err := store.Subscriptions(t.Context()); err != nil || len(subs) != 0 {
		t.Fatalf("subscriptions after the config was unloaded: %v (%v), want none", subs, err)
	}
}

// TestSyncLaterYieldsToANewerConfig: after a reload whose config synced
// its subscriptions, the old config's late sync writes nothing.
func TestSyncLaterYieldsToANewerConfig(t *testing.T) {
	old, store, _ := syncLaterApp(t, 0)
	newer := &App{ctx: old.ctx, logger: zap.NewNop(), startedAt: old.startedAt.Add(time.Millisecond), Subscriptions: map[string]*SubscriptionConfig{
		"other": {URL: "https://other.example/hook", Events: []string{"*"}, Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	}}
	subsSync.Lock()
	err := newer.syncRecorded(t.Context(), store)
	subsSync.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if done, err := old.syncIfActive(store); done || err != nil {
		t.Fatalf("the old config's late sync: done %v (%v), want given up", done, err)
	}
	subs, err := store.Subscriptions(t.Context())
	if err != nil || len(subs) != 1 || subs[0].AppName != "other" {
		t.Fatalf("subscriptions: %v (%v), want the newer config's alone", subs, err)
	}
}
