package badgerstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The deliveries of an ordered subscription that carry an order key stand
// in a line per subscription and key, in the order index:
//
//	o/<line>/<sequence, big-endian> → delivery id
//
// <line> is a hash of the subscription id and the order key (any text
// fits), the sequence one more than the line's last (lines are short: a
// key's deliveries pending at once). The first of a line is in the due
// index like any pending delivery; the others are Waiting, with no due
// time, until the one before them finishes (succeeded, failed for good,
// cancelled): then the next is due at once. So a retried delivery holds
// back its key, and its key only.
var prefixOrder = []byte("o/")

// orderLine is the key prefix of d's line.
func orderLine(d *webhook.Delivery) []byte {
	h := sha256.Sum256([]byte(d.SubscriptionID + "\x00" + d.OrderKey))
	line := make([]byte, 0, len(prefixOrder)+32+1)
	line = append(line, prefixOrder...)
	line = hex.AppendEncode(line, h[:16])
	return append(line, '/')
}

// joinLine puts d, made by a commit's fan-out, at the end of its line:
// Waiting, with no due time, when others are before it. Only the
// committer joins lines, one commit at a time; a delivery leaving its
// line meanwhile deletes an entry this read, so the commit fails with
// badger.ErrConflict and is written again (commitBatch).
func joinLine(txn *badger.Txn, d *webhook.Delivery) error {
	line := orderLine(d)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: line, Reverse: true})
	it.Seek(append(line, 0xff))
	var seq uint64
	if it.Valid() {
		seq = binary.BigEndian.Uint64(it.Item().Key()[len(line):]) + 1
		d.Waiting, d.NextAttemptAt = true, nil
	}
	it.Close()
	return txn.Set(binary.BigEndian.AppendUint64(line, seq), []byte(d.ID))
}

// leaveLine takes d, finished, out of its line and reports whether it
// was the first.
func leaveLine(txn *badger.Txn, d *webhook.Delivery) (bool, error) {
	line := orderLine(d)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: line, PrefetchValues: true})
	first := true
	var mine []byte
	for it.Rewind(); it.Valid() && mine == nil; it.Next() {
		err := it.Item().Value(func(id []byte) error {
			if string(id) == d.ID {
				mine = it.Item().KeyCopy(nil)
			}
			return nil
		})
		if err != nil {
			it.Close()
			return false, err
		}
		first = first && mine != nil
	}
	it.Close()
	if mine == nil {
		return false, nil // not in the line (made before the subscription was ordered)
	}
	return first, txn.Delete(mine)
}

// releaseLine makes the first delivery of d's line, if it waits, due at
// now. Entries whose delivery is gone (expired) or finished are dropped
// on the way: they must not hold the line.
func releaseLine(txn *badger.Txn, d *webhook.Delivery, now time.Time, retention time.Duration, notes *dueNotes, queued *int64) error {
	line := orderLine(d)
	type entry struct{ key, id []byte }
	var entries []entry // read first: the loop writes into the line
	it := txn.NewIterator(badger.IteratorOptions{Prefix: line, PrefetchValues: true})
	for it.Rewind(); it.Valid(); it.Next() {
		id, err := it.Item().ValueCopy(nil)
		if err != nil {
			it.Close()
			return err
		}
		entries = append(entries, entry{it.Item().KeyCopy(nil), id})
	}
	it.Close()
	for _, e := range entries {
		next, err := getDelivery(txn, string(e.id))
		if err != nil && !errors.Is(err, webhook.ErrNotFound) {
			return err
		}
		if err == nil && next.Status == webhook.Pending {
			if !next.Waiting {
				return nil // already due
			}
			old := *next
			next.Waiting, next.NextAttemptAt, next.UpdatedAt = false, &now, now
			return putDelivery(txn, &old, next, retention, notes, queued)
		}
		if err := txn.Delete(e.key); err != nil {
			return err
		}
	}
	return nil
}

// keepLine follows d's change in its line, if it has one: a finished
// delivery leaves it and lets the next one go. (A redelivery has no line:
// webhook.Delivery.Redeliver clears its order key.)
func keepLine(txn *badger.Txn, old, d *webhook.Delivery, retention time.Duration, notes *dueNotes, queued *int64) error {
	if d.OrderKey == "" || old == nil || old.Status != webhook.Pending || d.Status == webhook.Pending {
		return nil
	}
	d.Waiting = false
	first, err := leaveLine(txn, d)
	if err != nil || !first {
		return err
	}
	return releaseLine(txn, d, d.UpdatedAt, retention, notes, queued)
}

// countWaiting counts the waiting deliveries: every entry of the order
// index but the first of each line.
func countWaiting(txn *badger.Txn) int64 {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixOrder})
	defer it.Close()
	var n int64
	var line []byte
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		cur := k[:len(k)-8]
		if line != nil && string(cur) == string(line) {
			n++
			continue
		}
		line = append(line[:0], cur...)
	}
	return n
}
