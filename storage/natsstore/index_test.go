package natsstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDueIndex: due returns a subscription's earliest due deliveries, at
// most limit, in order of due time then id, as they are put, moved and
// removed; the earliest due time after now when it reaches one.
func TestDueIndex(t *testing.T) {
	x := newDueIndex()
	now := time.Unix(1000, 0)
	all := map[string]time.Time{}
	for i := range 1000 {
		id := fmt.Sprintf("dlv_%04d", i)
		due := now.Add(time.Duration(rand.IntN(2000)-1000) * time.Millisecond)
		x.put(&pending{id: id, sub: "a", due: due})
		all[id] = due
	}
	x.put(&pending{id: "other", sub: "b", due: now})
	for i := range 200 { // moved or removed
		id := fmt.Sprintf("dlv_%04d", i*5)
		if i%2 == 0 {
			x.remove(id)
			delete(all, id)
			continue
		}
		due := now.Add(time.Duration(rand.IntN(2000)-1000) * time.Millisecond)
		x.put(&pending{id: id, sub: "a", due: due, recorded: true})
		all[id] = due
	}
	type entry struct {
		id  string
		due time.Time
	}
	var want []entry
	var next time.Time
	for id, due := range all {
		if !due.After(now) {
			want = append(want, entry{id, due})
		} else if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	slices.SortFunc(want, func(a, b entry) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, limit := range []int{1, 10, len(want), len(want) + 10} {
		got, n := x.due("a", now, limit)
		if len(got) != min(limit, len(want)) {
			t.Fatalf("limit %d: %d due, want %d", limit, len(got), min(limit, len(want)))
		}
		for i, p := range got {
			if p.id != want[i].id || !p.due.Equal(want[i].due) {
				t.Fatalf("limit %d: #%d is %s at %v, want %s at %v", limit, i, p.id, p.due, want[i].id, want[i].due)
			}
		}
		if wantNext := map[bool]time.Time{true: next}[limit > len(want)]; !n.Equal(wantNext) {
			t.Errorf("limit %d: next %v, want %v", limit, n, wantNext)
		}
	}
	if x.size() != int64(len(all))+1 || len(x.of("a")) != len(all) {
		t.Errorf("size %d, of a %d; want %d and %d", x.size(), len(x.of("a")), len(all)+1, len(all))
	}
}
