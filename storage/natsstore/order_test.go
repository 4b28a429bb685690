package natsstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// TestDueIndexLines: the watch's index keeps an ordered subscription's
// deliveries of one order key in a line, in the order their records came:
// only the first may be claimed; it leaving (finished, deleted) lets the
// next go and asks for a wake-up; retries (records of the first) keep the
// line; an unordered subscription of the same events is not held.
func TestDueIndexLines(t *testing.T) {
	x := newDueIndex()
	logger := zap.NewNop()
	now := time.Unix(1000, 0)
	ordered, plain := subKey("ordered"), subKey("plain")
	event := func(i int, key string) {
		h := nats.Header{hdrAt: {unixNano(now)}, hdrName: {"order.updated"},
			hdrFanout: {fmt.Sprintf("o%d %s,p%d %s", i, ordered, i, plain)}}
		if key != "" {
			h.Set(hdrOrder, orderToken(key))
			h.Set(hdrOrdered, ordered)
		}
		x.apply(fmt.Sprintf("e.evt_%d", i), h, uint64(i+1), now, logger)
	}
	keys := []string{"order:1", "order:2", "order:1", "", "order:1", "order:2"}
	for i, k := range keys {
		event(i, k)
	}
	ids := func(sub string) []string {
		got, _ := x.due(sub, now, 100)
		var out []string
		for _, p := range got {
			out = append(out, p.id)
		}
		slices.Sort(out)
		return out
	}
	if got := ids("plain"); len(got) != len(keys) {
		t.Errorf("unordered subscription: %v due, want all %d", got, len(keys))
	}
	if got, want := ids("ordered"), []string{"o0", "o1", "o3"}; !slices.Equal(got, want) {
		t.Fatalf("ordered subscription: %v due, want the first of each key and the unkeyed one %v", got, want)
	}
	record := func(id, status string, due time.Time) bool { // of a delivery of order:1, as putDelivery writes it
		h := nats.Header{hdrStatus: {status}, hdrDue: {unixNano(due)}, hdrOrder: {orderToken("order:1")}}
		return x.apply("d."+ordered+"."+id, h, 100, now, logger)
	}
	record("o0", "pending", now.Add(time.Hour)) // a retry in an hour
	if got, want := ids("ordered"), []string{"o1", "o3"}; !slices.Equal(got, want) {
		t.Errorf("while o0 waits for its retry: %v due, want %v", got, want)
	}
	if !record("o0", "failed", now) {
		t.Error("o0 failing for good let o2 go without asking for a wake-up")
	}
	if got, want := ids("ordered"), []string{"o1", "o2", "o3"}; !slices.Equal(got, want) {
		t.Errorf("after o0 failed: %v due, want %v", got, want)
	}
	if record("o4", "cancelled", now) { // a waiting one leaving lets nobody go
		t.Error("cancelling a waiting delivery asked for a wake-up")
	}
	if !x.apply("d."+ordered+".o1", nats.Header{hdrKVOp: {"DEL"}}, 101, now, logger) {
		t.Error("o1's record deleted let o5 go without asking for a wake-up")
	}
	if got, want := ids("ordered"), []string{"o2", "o3", "o5"}; !slices.Equal(got, want) {
		t.Errorf("after o4 cancelled and o1 deleted: %v due, want %v", got, want)
	}
	if n := x.size(); n != int64(len(keys))+3 {
		t.Errorf("size %d, want %d", n, len(keys)+3)
	}
}

// TestDueIndexLinesRandom: whatever the order in which the firsts of many
// lines finish, each line's deliveries become due one at a time, in order.
func TestDueIndexLinesRandom(t *testing.T) {
	x := newDueIndex()
	logger := zap.NewNop()
	now := time.Unix(1000, 0)
	sub := subKey("s")
	const lines, per = 20, 10
	var seq uint64
	for i := range per {
		for l := range lines {
			seq++
			h := nats.Header{hdrAt: {unixNano(now)}, hdrName: {"x.y"}, hdrFanout: {fmt.Sprintf("d%02d_%02d %s", l, i, sub)},
				hdrOrder: {orderToken(fmt.Sprint("k", l))}, hdrOrdered: {sub}}
			x.apply(fmt.Sprintf("e.evt_%d", seq), h, seq, now, logger)
		}
	}
	next := make([]int, lines) // per line, the next expected
	for done := 0; done < lines*per; {
		due, _ := x.due("s", now, 100)
		if len(due) == 0 {
			t.Fatalf("nothing due after %d of %d", done, lines*per)
		}
		p := due[rand.IntN(len(due))]
		var l, i int
		if _, err := fmt.Sscanf(p.id, "d%02d_%02d", &l, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[l] {
			t.Fatalf("line %d: %s due, want #%d", l, p.id, next[l])
		}
		for _, q := range due {
			var ql, qi int
			_, _ = fmt.Sscanf(q.id, "d%02d_%02d", &ql, &qi)
			if ql == l && qi != i {
				t.Fatalf("two of line %d due at once", l)
			}
		}
		seq++
		x.apply("d."+sub+"."+p.id, nats.Header{hdrStatus: {"succeeded"}}, seq, now, logger)
		next[l]++
		done++
	}
}

// TestDueIndexRebuiltAfterRedelivery: a node that reads the ledger from the
// start sees a redelivered delivery's event (which put it in its line)
// and then only its last record, without Wh-Order: it takes the delivery
// out of its line, as the nodes that followed the redelivery did, so the
// next of the line is the one that may be claimed, not both.
func TestDueIndexRebuiltAfterRedelivery(t *testing.T) {
	x := newDueIndex()
	logger := zap.NewNop()
	now := time.Unix(1000, 0)
	sub := subKey("s")
	for i, id := range []string{"x", "z"} {
		h := nats.Header{hdrAt: {unixNano(now)}, hdrName: {"order.updated"}, hdrFanout: {id + " " + sub},
			hdrOrder: {orderToken("order:1")}, hdrOrdered: {sub}}
		x.apply(fmt.Sprintf("e.evt_%d", i), h, uint64(i+1), now, logger)
	}
	// z's retry, then x redelivered (its last record: pending, no Wh-Order).
	x.apply("d."+sub+".z", nats.Header{hdrStatus: {"pending"}, hdrDue: {unixNano(now.Add(time.Hour))}, hdrOrder: {orderToken("order:1")}}, 10, now, logger)
	x.apply("d."+sub+".x", nats.Header{hdrStatus: {"pending"}, hdrDue: {unixNano(now)}}, 11, now, logger)
	due, _ := x.due("s", now.Add(2*time.Hour), 10)
	var ids []string
	for _, p := range due {
		ids = append(ids, p.id)
	}
	slices.Sort(ids)
	if want := []string{"x", "z"}; !slices.Equal(ids, want) {
		t.Errorf("due %v, want %v: z the first of its line, x outside it", ids, want)
	}
	if p := x.lookup("x"); p == nil || p.line != "" || p.waiting {
		t.Errorf("x: %+v, want out of its line", p)
	}
}
