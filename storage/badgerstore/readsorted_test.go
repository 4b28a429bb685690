package badgerstore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// readSorted finds what a Get per id finds, whichever ids are asked for:
// unsorted, repeated, missing, deleted, far apart (a seek) or close (steps).
func TestReadSorted(t *testing.T) {
	s := openTest(t)
	id := func(i int) string { return fmt.Sprintf("dlv_%04d", i) }
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range 200 {
			if i%7 == 3 {
				continue // never written
			}
			if err := txn.Set(key(prefixDelivery, id(i)), []byte(id(i))); err != nil {
				return err
			}
		}
		// Records of another family on either side must not be read.
		if err := txn.Set(key(prefixEvent, id(5)), []byte("event")); err != nil {
			return err
		}
		return txn.Set(key(prefixDue, id(5)), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(prefixDelivery, id(10))) }); err != nil {
		t.Fatal(err)
	}

	cases := map[string][]int{
		"consecutive":             {0, 1, 2, 3, 4, 5, 6},
		"unsorted with repeats":   {9, 2, 9, 4, 2},
		"deleted and never there": {10, 3, 17, 11},
		"far apart":               {1, 50, 51, 120, 199},
		"past the last":           {198, 199, 200, 500},
		"before the first":        {-1, 0},
		"one":                     {42},
		"none":                    nil,
	}
	for name, nums := range cases {
		var ids []string
		for _, n := range nums {
			ids = append(ids, id(n))
		}
		var got, want []string
		err := s.db.View(func(txn *badger.Txn) error {
			for _, x := range slices.Compact(slices.Sorted(slices.Values(ids))) {
				if item, err := txn.Get(key(prefixDelivery, x)); err == nil {
					v, _ := item.ValueCopy(nil)
					want = append(want, x+"="+string(v))
				}
			}
			return readSorted(txn, prefixDelivery, ids, func(x string, item *badger.Item) error {
				v, err := item.ValueCopy(nil)
				got = append(got, x+"="+string(v))
				return err
			})
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: read %v, want %v (a Get per id)", name, got, want)
		}
	}
}
