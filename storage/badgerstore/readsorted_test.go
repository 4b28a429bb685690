package badgerstore

import (
	"errors"
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
		// A longer id that starts as a missing one does.
		if err := txn.Set(key(prefixDelivery, id(24)+"x"), []byte("longer")); err != nil {
			return err
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
		"consecutive":                    {0, 1, 2, 3, 4, 5, 6},
		"unsorted with repeats":          {9, 2, 9, 4, 2},
		"deleted and never there":        {10, 3, 17, 11},
		"far apart":                      {1, 50, 51, 120, 199},
		"past the last":                  {198, 199, 200, 500},
		"before the first":               {-1, 0},
		"one":                            {42},
		"a missing one among close ones": {2, 3, 4, 5},
		"an id another one starts with":  {23, 24, 25},
		"none":                           nil,
	}
	for name, nums := range cases {
		var ids []string
		for _, n := range nums {
			ids = append(ids, id(n))
		}
		if name == "an id another one starts with" {
			ids = append(ids, id(24)+"x")
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

// readSorted's reads count in conflict detection as a Get per id would:
// a record it returned, or an id it looked for and did not find, written
// meanwhile by another transaction makes the reader's commit conflict; a
// record it only stepped over does not (under load, other subscriptions'
// deliveries, whose results are recorded meanwhile).
func TestReadSortedConflicts(t *testing.T) {
	s := openTest(t)
	id := func(i int) string { return fmt.Sprintf("dlv_%04d", i) }
	set := func(txn *badger.Txn, i int) error { return txn.Set(key(prefixDelivery, id(i)), []byte("v")) }
	if err := s.db.Update(func(txn *badger.Txn) error {
		for _, i := range []int{1, 2, 3, 5} {
			if err := set(txn, i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		meantime int // the record another transaction writes
		conflict bool
	}{
		{"a record stepped over", 2, false},
		{"a record read", 3, true},
		{"an id looked for, not there", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			txn := s.db.NewTransaction(true)
			defer txn.Discard()
			if err := readSorted(txn, prefixDelivery, []string{id(1), id(3), id(4)}, func(string, *badger.Item) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(func(other *badger.Txn) error { return set(other, tc.meantime) }); err != nil {
				t.Fatal(err)
			}
			if err := set(txn, 1); err != nil {
				t.Fatal(err)
			}
			err := txn.Commit()
			if got := errors.Is(err, badger.ErrConflict); got != tc.conflict {
				t.Errorf("commit after %s was written meanwhile: %v, want a conflict: %v", tc.name, err, tc.conflict)
			}
		})
	}
}
