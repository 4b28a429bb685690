package badgerstore

import "github.com/dgraph-io/badger/v4"

// QueueDepth is the number of pending deliveries: the keys of the due
// index and the deliveries waiting in an order line. It is read from a
// counter, not the store (the dispatcher reads it every few seconds for a
// gauge, and a backlog may hold a million keys):
// Open counts the keys once, and every transaction that adds or removes
// some adds its change (dueNotes.queued, putDelivery) once committed.
func (s *Store) QueueDepth() int64 { return s.queued.Load() }

// countDue counts the pending deliveries, for the counter's start.
func countDue(db *badger.DB) int64 {
	var n int64
	_ = db.View(func(txn *badger.Txn) error { // a read-only transaction fails only on a closed DB
		n = countPending(txn)
		return nil
	})
	return n
}

// countPending counts the keys of the due index and the deliveries
// waiting in an order line.
func countPending(txn *badger.Txn) int64 {
	return countKeys(txn, prefixDue) + countWaiting(txn)
}
