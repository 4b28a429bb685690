package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// cancelBatch is how many deliveries one transaction cancels at most:
// Badger refuses a transaction over 15% of a memtable (ErrTxnTooBig; with
// 8 MiB memtables, about 4,000 cancels), so a backlog is cancelled in
// several. A batch refused all the same (deliveries with long attempt
// histories) is tried again at half the size.
const cancelBatch = 1000

// dueEntry is a key of the due index and its delivery's id.
type dueEntry struct {
	key []byte
	id  string
}

// dueFinder returns, read in txn, up to most entries of the due index to
// cancel, from the key from on (nil: from the start), and the key the next
// batch starts from (nil: there is none).
type dueFinder func(txn *badger.Txn, from []byte, most int) ([]dueEntry, []byte, error)

// cancelDue cancels the pending deliveries that find returns, one
// transaction per batch, and returns how many it cancelled. A batch that
// fails leaves those before it cancelled. Cancelling the first delivery of
// an order line makes the next one due (order.go), so the passes go on
// until one finds nothing: a line of n deliveries takes n passes.
func (s *Store) cancelDue(ctx context.Context, find dueFinder) (int, error) {
	total := 0
	for {
		n, err := s.cancelPass(ctx, find)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// cancelPass is one pass of cancelDue.
func (s *Store) cancelPass(ctx context.Context, find dueFinder) (int, error) {
	total, most := 0, cancelBatch
	var from []byte
	retention := s.config().Retention
	for {
		var n int
		var queued int64
		var next []byte
		err := s.update(ctx, most*deliverySize, func(txn *badger.Txn) error {
			n, queued = 0, 0
			found, after, err := find(txn, from, most)
			if err != nil {
				return err
			}
			next = after
			now := time.Now().UTC()
			for _, e := range found {
				done, err := cancelEntry(txn, e, now, retention, &queued)
				if err != nil {
					return err
				}
				if done {
					n++
				}
			}
			return nil
		})
		if errors.Is(err, badger.ErrTxnTooBig) && most > 1 {
			most /= 2
			continue
		}
		if err != nil {
			return total, err
		}
		s.queued.Add(queued)
		total += n
		if next == nil {
			return total, nil
		}
		from = next
	}
}

// cancelEntry cancels the delivery of a due-index entry, or drops the
// entry if the delivery expired under it; it reports whether it cancelled.
func cancelEntry(txn *badger.Txn, e dueEntry, now time.Time, retention time.Duration, queued *int64) (bool, error) {
	d, err := getDelivery(txn, e.id)
	if errors.Is(err, webhook.ErrNotFound) {
		*queued--
		return false, txn.Delete(e.key)
	}
	if err != nil {
		return false, err
	}
	old := *d
	d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.Cancelled, nil, now
	return true, putDelivery(txn, &old, d, retention, nil, queued)
}

// subscriptionDue finds the due-index entries of one subscription.
func subscriptionDue(subID string) dueFinder {
	prefix := dueKey(subID, time.Time{}, "")[:len(prefixDue)+len(subID)+1]
	return func(txn *badger.Txn, from []byte, most int) ([]dueEntry, []byte, error) {
		if from == nil {
			from = prefix
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var found []dueEntry
		for it.Seek(from); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			if len(found) == most {
				return found, k, nil
			}
			_, id := dueIn(prefix, k)
			found = append(found, dueEntry{k, id})
		}
		return found, nil, nil
	}
}

// cancelOrphans cancels the pending deliveries whose subscription no
// longer exists: a delete cancels them after removing the record, and a
// crash may stop it before the end; a fan-out from a snapshot taken just
// before the delete, or a redelivery or replay racing with it, can leave
// some too. It returns how many it cancelled.
func (s *Store) cancelOrphans(ctx context.Context) (int, error) {
	return s.cancelDue(ctx, findOrphans)
}

// findOrphans is the dueFinder of the entries of deleted subscriptions:
// it skips each existing subscription's entries at once.
func findOrphans(txn *badger.Txn, from []byte, most int) ([]dueEntry, []byte, error) {
	if from == nil {
		from = prefixDue
	}
	var found []dueEntry
	var gone []byte // the key prefix of the last subscription found missing
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixDue})
	defer it.Close()
	for it.Seek(from); it.Valid(); {
		k := it.Item().Key()
		rest := k[len(prefixDue):]
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			it.Next()
			continue
		}
		prefix := k[:len(prefixDue)+slash+1]
		if gone == nil || !bytes.Equal(prefix, gone) {
			if _, err := getSubscription(txn, string(rest[:slash])); err == nil {
				// Skip the rest of its keys: the byte after '/' sorts after them.
				it.Seek(append(bytes.Clone(prefix[:len(prefix)-1]), '/'+1))
				continue
			} else if !errors.Is(err, webhook.ErrNotFound) {
				return nil, nil, err
			}
			gone = bytes.Clone(prefix)
		}
		if len(found) == most {
			return found, it.Item().KeyCopy(nil), nil
		}
		_, id := dueIn(prefix, k)
		found = append(found, dueEntry{it.Item().KeyCopy(nil), id})
		it.Next()
	}
	return found, nil, nil
}
