package badgerstore

import (
	"bytes"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// A claim reads the records of many deliveries, and their events, whose
// ids are mostly consecutive (a subscription's due deliveries are in the
// order they were made). A Get per record may decompress the record's
// block anew: Badger's block cache (ristretto) takes a block in the
// background, so the Get that follows often misses it. Read in key order
// through one iterator, the records of one block cost one decompression
// (over a 100k drain, the blocks decompressed fell from 912 to 615 MB).

// seekAfter is how many keys the iterator steps over to reach the next
// id before it seeks instead.
const seekAfter = 16

// readSorted calls fn with the item of each id's record in family prefix
// (prefixDelivery, prefixEvent) that exists and is neither deleted nor
// expired, in key order, each id once. fn must not keep the item. The
// reads count in txn's conflict detection as Gets would: each id looked
// for, and no other record (see stepTo).
func readSorted(txn *badger.Txn, prefix []byte, ids []string, fn func(id string, item *badger.Item) error) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for i, id := range ids {
		k := key(prefix, id)
		if i == 0 || !stepTo(it, k) {
			it.Seek(k) // counted as a read of k, found or not
		}
		if at(it, k) {
			if err := fn(id, it.Item()); err != nil {
				return err
			}
		}
	}
	return nil
}

// stepTo moves it forward, by at most seekAfter steps, to k, and says
// whether it got there (false when k is not there: it may then be past
// k). It looks at the keys stepped over without Item, which would count
// them as read: they are other deliveries' records, which workers update
// meanwhile, and each would make the claim conflict and start again.
func stepTo(it *badger.Iterator, k []byte) bool {
	for range seekAfter {
		if !it.Valid() {
			return false
		}
		if at(it, k) {
			return true
		}
		it.Next()
	}
	return at(it, k)
}

// at reports whether it is at key k. Only a key that starts with k is
// read (Item), so as to compare it whole.
func at(it *badger.Iterator, k []byte) bool {
	return it.ValidForPrefix(k) && bytes.Equal(it.Item().Key(), k)
}
