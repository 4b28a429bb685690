package natsstore

import (
	"container/heap"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The kinds of record a tally counts.
const (
	kindEvent = iota
	kindSucceeded
	kindFailed
	kindCancelled
	numKinds
)

// kindOf is the kind of a finished delivery's status; false for pending
// or a status the tally does not know.
func kindOf(status string) (int, bool) {
	switch status {
	case webhook.Succeeded:
		return kindSucceeded, true
	case webhook.Failed:
		return kindFailed, true
	case webhook.Cancelled:
		return kindCancelled, true
	}
	return 0, false
}

// tally keeps what Count answers, as the ledger's watch applies the
// records: the events and the finished deliveries by status, each by the
// second its record expires (its storage time plus its Nats-TTL; 0:
// never), so that Count is a sum kept up to date instead of a read of the
// whole ledger. Expired records are dropped by time, not by the servers'
// markers (a marker does not say what it replaces). A finished record
// that is written again (a redeliver, an attempt recorded after a cancel)
// carries, in Wh-Was, the status, expiry and sequence of the record it
// replaces, which the tally takes back if it counted it: counted holds the
// sequences of the finished records counted and not replaced since, so a
// record the watch never read (replaced before the watch reached it, at
// start or when it lags) is not taken back. Memory: one bit per ledger
// sequence from the oldest finished record alive, and one bucket per
// second in which a counted record expires.
type tally struct {
	mu      sync.Mutex
	now     func() time.Time
	total   [numKinds]int64
	byExp   map[int64]*expBucket
	exps    expHeap // the keys of byExp, earliest first
	counted seqSet
	// foreverMin is the lowest sequence of a finished record counted
	// that never expires (0: none); see trim.
	foreverMin uint64
	trimmedAt  time.Time
}

// expBucket counts the records that expire in one second.
type expBucket struct {
	n      [numKinds]int64
	minSeq uint64 // the lowest sequence of a finished delivery record in it
}

func newTally() *tally {
	return &tally{now: time.Now, byExp: map[int64]*expBucket{}}
}

// add counts a record of kind, stored at seq, that expires at exp; a
// record already expired is not counted.
func (t *tally) add(kind int, exp int64, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if exp != 0 && exp <= t.now().Unix() {
		return
	}
	t.total[kind]++
	if kind != kindEvent {
		t.counted.set(seq)
	}
	if exp == 0 {
		if kind != kindEvent && (t.foreverMin == 0 || seq < t.foreverMin) {
			t.foreverMin = seq
		}
		return
	}
	b := t.byExp[exp]
	if b == nil {
		b = &expBucket{minSeq: math.MaxUint64}
		t.byExp[exp] = b
		heap.Push(&t.exps, exp)
	}
	b.n[kind]++
	if kind != kindEvent {
		b.minSeq = min(b.minSeq, seq)
	}
}

// replaced takes back a finished delivery record that a later write
// replaced, if it was counted and has not expired.
func (t *tally) replaced(was string) {
	kind, exp, seq, ok := parseWas(was)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.counted.has(seq) {
		return
	}
	t.counted.clear(seq)
	if exp == 0 {
		t.total[kind]--
		return
	}
	if b := t.byExp[exp]; b != nil && b.n[kind] > 0 { // else expired meanwhile, already taken out
		b.n[kind]--
		t.total[kind]--
	}
}

// counts returns the records alive now, by kind.
func (t *tally) counts() [numKinds]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(t.now())
	return t.total
}

// trimEvery is how often the counted sequences are trimmed of those below
// every record still alive.
const trimEvery = time.Minute

// expire takes out the records expired at now.
func (t *tally) expire(now time.Time) {
	sec := now.Unix()
	for len(t.exps) > 0 && t.exps[0] <= sec {
		exp := heap.Pop(&t.exps).(int64)
		for k, n := range t.byExp[exp].n {
			t.total[k] -= n
		}
		delete(t.byExp, exp)
	}
	if now.Sub(t.trimmedAt) >= trimEvery {
		t.trimmedAt = now
		t.trim()
	}
}

// trim forgets the counted sequences below the lowest of the records alive:
// the records there expired or were replaced.
func (t *tally) trim() {
	floor := t.foreverMin
	for _, b := range t.byExp {
		if b.minSeq != math.MaxUint64 && (floor == 0 || b.minSeq < floor) {
			floor = b.minSeq
		}
	}
	if floor == 0 {
		t.counted = seqSet{}
		return
	}
	t.counted.trim(floor)
}

// expiry is the second from which a record stored at ts with headers h is
// gone (0: never): its storage time plus its Nats-TTL, rounded down, so
// that a count does not outlive the record (the servers remove it a
// moment after its TTL).
func expiry(ts time.Time, h nats.Header) int64 {
	v := h.Get(hdrTTL)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, err := strconv.ParseInt(v, 10, 64) // plain seconds
		if err != nil {
			return 0 // "never"
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0
	}
	return ts.Add(d).Unix()
}

// was is the Wh-Was header of a write that replaces a finished delivery
// record: its status, expiry and sequence; "" for a pending one.
func was(status string, exp int64, seq uint64) string {
	if _, ok := kindOf(status); !ok {
		return ""
	}
	return status + " " + strconv.FormatInt(exp, 10) + " " + strconv.FormatUint(seq, 10)
}

func parseWas(v string) (kind int, exp int64, seq uint64, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return 0, 0, 0, false
	}
	kind, ok = kindOf(f[0])
	exp, err := strconv.ParseInt(f[1], 10, 64)
	seq, err2 := strconv.ParseUint(f[2], 10, 64)
	return kind, exp, seq, ok && err == nil && err2 == nil
}

// expHeap is a min-heap of expiry seconds.
type expHeap []int64

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *expHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// seqSet is a set of stream sequences, one bit each from base.
type seqSet struct {
	base  uint64 // the sequence of words[0]'s lowest bit, a multiple of 64
	words []uint64
}

func (b *seqSet) set(seq uint64) {
	start := seq &^ 63
	if len(b.words) == 0 {
		b.base = start
	}
	if start < b.base { // below a trimmed floor
		b.words = append(make([]uint64, (b.base-start)/64), b.words...)
		b.base = start
	}
	i := (seq - b.base) / 64
	if n := uint64(len(b.words)); i >= n {
		b.words = append(b.words, make([]uint64, i+1-n)...)
	}
	b.words[i] |= 1 << (seq % 64)
}

func (b *seqSet) has(seq uint64) bool {
	if seq < b.base || (seq-b.base)/64 >= uint64(len(b.words)) {
		return false
	}
	return b.words[(seq-b.base)/64]&(1<<(seq%64)) != 0
}

func (b *seqSet) clear(seq uint64) {
	if b.has(seq) {
		b.words[(seq-b.base)/64] &^= 1 << (seq % 64)
	}
}

// trim forgets the sequences below floor.
func (b *seqSet) trim(floor uint64) {
	if floor <= b.base {
		return
	}
	n := min((floor&^63-b.base)/64, uint64(len(b.words)))
	if n == 0 {
		return
	}
	b.words = slices.Clone(b.words[n:]) // let the old array go
	b.base += n * 64
}
