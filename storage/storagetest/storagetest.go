// Package storagetest is the conformance suite of storage backends: it
// checks, through storage.Store alone, the behaviour that the handler, the
// delivery workers and the admin routes rely on. Every backend runs it
// unchanged; the embedded Badger store does in
// storage/badgerstore/conformance_test.go.
//
// A new backend runs it from a test of its own package, with a function
// that opens a fresh, empty store for each check and closes it when the
// check ends:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s, err := mybackend.Open(mybackend.Options{ /* a fresh bucket, stream or directory */ })
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// Each check is a subtest named after it (go test -run
// 'TestConformance/ClaimLease'), and Checks lists them for a test that
// runs one against a store of its choosing.
//
// Beyond the method comments of storage.Store, the suite holds a backend
// to what the callers assume:
//   - the settings of the last Configure hold for the calls that follow
//     (a store that was never configured keeps records forever and
//     commits with webhook.Sync);
//   - a method given a context that is already done returns an error
//     matching ctx.Err() and writes nothing;
//   - events are committed with ids from webhook.NewID("evt_", ev.Time) and
//     times to the millisecond, as the handler makes them;
//   - a Commit's snapshots are readable when it returns, even with
//     webhook.Async: the next request on the resource reads them;
//   - a commit may carry several snapshots of one key (several rules of a
//     request remember one resource): the last one is what is remembered;
//   - any string is a state key (colons, slashes, dots, spaces, 70 kB);
//   - a retention of one second is honoured within a few seconds;
//   - Claim takes its clock as an argument and compares due times with it,
//     never with its own clock;
//   - after Close, operations fail with an error matching webhook.ErrClosed,
//     and a second Close (the open function's cleanup) does not panic.
package storagetest

import (
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
)

// Check is one rule of the contract, run against one open store. It uses
// only the methods of testing.TB, so that a test may run it with a
// recorder to see a broken store fail it.
type Check struct {
	Name string
	Fn   func(t testing.TB, s storage.Store)
}

// Checks returns the suite's checks, in the order Run runs them.
func Checks() []Check {
	return []Check{
		{"CommitFanOut", checkCommitFanOut},
		{"CommitAtomic", checkCommitAtomic},
		{"DurabilitySync", checkDurabilitySync},
		{"DurabilityAsync", checkDurabilityAsync},
		{"Snapshots", checkSnapshots},
		{"SnapshotKeys", checkSnapshotKeys},
		{"ClaimLease", checkClaimLease},
		{"ClaimExclusive", checkClaimExclusive},
		{"ClaimWhileCommitting", checkClaimWhileCommitting},
		{"ClaimBudgets", checkClaimBudgets},
		{"RetryAtDueTime", checkRetryAtDueTime},
		{"UpdateDeliveryConcurrent", checkUpdateDeliveryConcurrent},
		{"DeadLetterAndRedeliver", checkDeadLetterAndRedeliver},
		{"OrderedDelivery", checkOrderedDelivery},
		{"OrderedDeleteCancels", checkOrderedDeleteCancels},
		{"ReplaySince", checkReplaySince},
		{"RecentEvents", checkRecentEvents},
		{"SubscriptionCRUD", checkSubscriptionCRUD},
		{"SubscriptionConcurrentUpdates", checkSubscriptionConcurrentUpdates},
		{"DeleteCancelsPending", checkDeleteCancelsPending},
		{"LockKeys", checkLockKeys},
		{"LockKeysGivesUp", checkLockKeysGivesUp},
		{"Retention", checkRetention},
		{"CountsAndQueueDepth", checkCountsAndQueueDepth},
		{"Wake", checkWake},
		{"Cancelled", checkCancelled},
		{"Closed", checkClosed},
	}
}

// Run runs every check in a subtest of its own, each on a fresh store
// from open, which should close it when the subtest ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			c.Fn(t, open(t))
		})
	}
}
