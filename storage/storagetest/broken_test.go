package storagetest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/storage/storagetest"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Broken stores: the Badger store with one rule of the contract broken.

// leaselessClaim claims with no lease: what it claims is due again at once.
type leaselessClaim struct{ storage.Store }

func (s leaselessClaim) Claim(ctx context.Context, now time.Time, _ time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	return s.Store.Claim(ctx, now, 0, budget, wants)
}

// maxlessClaim gives every want the whole budget, ignoring its Max.
type maxlessClaim struct{ storage.Store }

func (s maxlessClaim) Claim(ctx context.Context, now time.Time, lease time.Duration, budget int, wants []webhook.Want) ([]webhook.Claim, time.Time, error) {
	all := make([]webhook.Want, len(wants))
	for i, w := range wants {
		all[i] = webhook.Want{SubID: w.SubID, Max: budget}
	}
	return s.Store.Claim(ctx, now, lease, budget, all)
}

// piecemealCommit commits each event on its own: a failure midway keeps
// what came before.
type piecemealCommit struct{ storage.Store }

func (s piecemealCommit) Commit(ctx context.Context, events []webhook.Event, snaps []webhook.Snapshot) error {
	if err := s.Store.Commit(ctx, nil, snaps); err != nil {
		return err
	}
	for _, ev := range events {
		if err := s.Store.Commit(ctx, []webhook.Event{ev}, nil); err != nil {
			return err
		}
	}
	return nil
}

// unretriedUpdate reads, applies fn once and writes back, with nothing
// to notice a concurrent update in between.
type unretriedUpdate struct{ storage.Store }

func (s unretriedUpdate) UpdateSubscription(ctx context.Context, id string, fn func(*webhook.Subscription) error) (*webhook.Subscription, error) {
	sub, err := s.Subscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := fn(sub); err != nil {
		return nil, err
	}
	return sub, s.PutSubscription(ctx, sub)
}

// lockless LockKeys holds nothing.
type lockless struct{ storage.Store }

func (lockless) LockKeys(context.Context, []string) (func(), error) { return func() {}, nil }

// contextless commits whatever its context says.
type contextless struct{ storage.Store }

func (s contextless) Commit(_ context.Context, events []webhook.Event, snaps []webhook.Snapshot) error {
	return s.Store.Commit(context.Background(), events, snaps)
}

// TestSuiteCatchesBrokenStores runs checks on broken stores, each of
// which must fail the check of the rule it breaks, and on the Badger store
// itself, which must pass it: the suite's checks can fail.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	for _, c := range []struct {
		check  string
		broken func(storage.Store) storage.Store
	}{
		{"ClaimLease", func(s storage.Store) storage.Store { return leaselessClaim{s} }},
		{"ClaimBudgets", func(s storage.Store) storage.Store { return maxlessClaim{s} }},
		{"CommitAtomic", func(s storage.Store) storage.Store { return piecemealCommit{s} }},
		{"SubscriptionConcurrentUpdates", func(s storage.Store) storage.Store { return unretriedUpdate{s} }},
		{"LockKeysGivesUp", func(s storage.Store) storage.Store { return lockless{s} }},
		{"Cancelled", func(s storage.Store) storage.Store { return contextless{s} }},
	} {
		t.Run(c.check, func(t *testing.T) {
			check := findCheck(t, c.check)
			if r := runRecorded(t, check, openBadger(t)); r.Failed() {
				t.Fatalf("%s fails on the Badger store itself:\n%s", c.check, r)
			}
			r := runRecorded(t, check, c.broken(openBadger(t)))
			if !r.Failed() {
				t.Fatalf("%s passed on a store that breaks its rule", c.check)
			}
			t.Logf("%s on the broken store failed as it should:\n%s", c.check, r)
		})
	}
}

func findCheck(t *testing.T, name string) storagetest.Check {
	for _, c := range storagetest.Checks() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s", name)
	return storagetest.Check{}
}

func openBadger(t *testing.T) storage.Store {
	s, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// recorder is a testing.TB that records failures instead of failing the
// test; the rest (Cleanup, TempDir, logs) goes to the real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

// runRecorded runs a check in a goroutine of its own, which Fatal ends.
func runRecorded(t *testing.T, c storagetest.Check, s storage.Store) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Fn(r, s)
	}()
	<-done
	return r
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }
func (r *recorder) Error(args ...any)                 { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Fail()                             { r.fail("Fail") }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) FailNow()          { r.fail("FailNow"); runtime.Goexit() }

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return "\t" + strings.Join(r.msgs, "\n\t")
}
