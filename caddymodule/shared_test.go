package caddymodule

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// waitingApp is a started config as adopt needs it.
func waitingApp() *App {
	return &App{logger: zap.NewNop(), Workers: 1, RateLimit: "100/m", Timeout: defaultTimeout, Retention: defaultRetention}
}

// notOpenShared is a store's shared state as openShared leaves it on a
// disk short of space: not open, opened later by openLater.
func notOpenShared(t *testing.T) *shared {
	t.Helper()
	backend := &badgerstore.Backend{Dir: t.TempDir()}
	if err := backend.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	sh := &shared{backend: backend, logger: zap.NewNop(), stop: make(chan struct{}), notOpen: badgerstore.ErrNoSpace}
	t.Cleanup(func() { _ = sh.Destruct() })
	return sh
}

// A reload whose new config fails to start leaves the old config serving:
// when the store opens, the old config must adopt it, or it skips every
// event for good while the store reports itself healthy. The Destruct at
// the test's end, right after, waits for the adoption rather than stop the
// dispatcher while it is being configured (go test -race).
func TestSharedOlderConfigAdoptsAfterFailedReload(t *testing.T) {
	sh := notOpenShared(t)
	old, failed := waitingApp(), waitingApp()
	if sh.openOrWait(old) || sh.openOrWait(failed) {
		t.Fatal("store reported open")
	}
	sh.forget(failed) // the new config failed to start: Caddy cleans it up
	sh.goOpenLater()
	testbed.Eventually(t, 3*reopenEvery, "the config still serving adopts the store", func() bool {
		return old.Store() != nil
	})
	if failed.Store() != nil {
		t.Fatal("the config cleaned up adopted the store")
	}
}

// Of the configs waiting, the last one started adopts the store.
func TestSharedLastConfigAdopts(t *testing.T) {
	sh := notOpenShared(t)
	old, current := waitingApp(), waitingApp()
	sh.openOrWait(old)
	sh.openOrWait(current)
	sh.forget(old) // the reload succeeded: the old config is cleaned up
	sh.goOpenLater()
	testbed.Eventually(t, 3*reopenEvery, "the current config adopts the store", func() bool {
		return current.Store() != nil
	})
	if old.Store() != nil {
		t.Fatal("the old config adopted the store")
	}
}

// A request that comes before its config's webhooks app has started (Caddy
// starts a config's apps in no fixed order, and the HTTP app may serve
// first) has its events stored once the app has started, not skipped.
func TestCommitWaitsForStart(t *testing.T) {
	a := waitingApp()
	a.startedC = make(chan struct{})
	backend := &badgerstore.Backend{Dir: t.TempDir()}
	if err := backend.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	a.backend = backend
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{}`)}
	done := make(chan error, 1)
	go func() { done <- a.commit(context.Background(), []webhook.Event{ev}, nil) }()
	if err := a.Start(); err != nil { // opening Badger takes a while: the commit is waiting
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(); _ = a.Cleanup() })
	if err := <-done; err != nil {
		t.Fatalf("commit made while the app was starting: %v, want it stored", err)
	}
	n := 0
	if err := a.Store().EventsSince(context.Background(), now, func(webhook.Event) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("stored events: %d, %v; want 1", n, err)
	}
}
