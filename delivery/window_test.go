package delivery

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// sendAll tries k sends now, each ending as it begins, and returns how
// many went.
func sendAll(w *window, k int) int {
	sent := 0
	for range k {
		if ok, _ := w.begin(); ok {
			w.end()
			sent++
		}
	}
	return sent
}

func TestWindow(t *testing.T) {
	type step struct {
		at   time.Duration // on the clock, from the start
		spec string        // the subscription's rate limit changes to this
		send int           // sends tried at once
		sent int           // how many of them went
		next time.Duration // if some did not: when the next may begin, from the start
	}
	tests := []struct {
		name  string
		spec  string
		steps []step
	}{
		{"a burst under the limit goes at once", "100/m", []step{
			{at: 0, send: 5, sent: 5},
			{at: time.Second, send: 5, sent: 5},
		}},
		{"150 at once: 100 in the first minute, the rest a minute after the first", "100/m", []step{
			{at: 0, send: 150, sent: 100, next: time.Minute},
			{at: 30 * time.Second, send: 50, sent: 0, next: time.Minute},
			{at: time.Minute - time.Nanosecond, send: 50, sent: 0, next: time.Minute},
			{at: time.Minute, send: 50, sent: 50},
		}},
		{"the window slides: sends leave it one period after they were made", "10/s", []step{
			{at: 0, send: 5, sent: 5},
			{at: 500 * time.Millisecond, send: 10, sent: 5, next: time.Second},
			{at: 900 * time.Millisecond, send: 1, sent: 0, next: time.Second},
			// The first 5 left the window, not the 5 of 0.5s: a fixed
			// window would let 10 through here.
			{at: time.Second, send: 10, sent: 5, next: 1500 * time.Millisecond},
			{at: 1500 * time.Millisecond, send: 10, sent: 5, next: 2 * time.Second},
			{at: 10 * time.Second, send: 11, sent: 10, next: 11 * time.Second},
		}},
		{"no window of a period sees more than the limit, whatever its start", "3/s", []step{
			{at: 0, send: 1, sent: 1},
			{at: 400 * time.Millisecond, send: 1, sent: 1},
			{at: 800 * time.Millisecond, send: 2, sent: 1, next: time.Second},
			{at: time.Second, send: 2, sent: 1, next: 1400 * time.Millisecond},
			{at: 1400 * time.Millisecond, send: 2, sent: 1, next: 1800 * time.Millisecond},
		}},
		{"per hour", "2/h", []step{
			{at: 0, send: 3, sent: 2, next: time.Hour},
			{at: 59 * time.Minute, send: 1, sent: 0, next: time.Hour},
			{at: time.Hour, send: 3, sent: 2, next: 2 * time.Hour},
		}},
		{"a lower limit keeps the sends made under the old one", "100/m", []step{
			{at: 0, send: 50, sent: 50},
			{at: 10 * time.Second, spec: "10/m", send: 1, sent: 0, next: time.Minute},
			{at: time.Minute, send: 20, sent: 10, next: 2 * time.Minute},
		}},
		{"a higher limit has room at once, less what was sent", "10/m", []step{
			{at: 0, send: 20, sent: 10, next: time.Minute},
			{at: 10 * time.Second, spec: "100/m", send: 100, sent: 90, next: time.Minute},
		}},
		{"a limit per second after one per minute", "100/m", []step{
			{at: 0, send: 20, sent: 20},
			{at: 30 * time.Second, spec: "5/s", send: 5, sent: 5},
		}},
		{"above exactMax sends are counted per slice of the period", "5000/s", []step{
			{at: 0, send: 6000, sent: 5000, next: time.Second},
			{at: time.Second - time.Nanosecond, send: 1, sent: 0, next: time.Second},
			{at: time.Second, send: 6000, sent: 5000, next: 2 * time.Second},
			// Sent at 2.0005s, counted until the end of its slice, 2.001s,
			// a period on: held back half a slice longer, never less.
			{at: 2*time.Second + 500*time.Microsecond, send: 5000, sent: 5000},
			{at: 3*time.Second + 500*time.Microsecond, send: 1, sent: 0, next: 3*time.Second + time.Millisecond},
			{at: 3*time.Second + time.Millisecond, send: 1, sent: 1},
		}},
		{"from a large limit to a small one", "5000/s", []step{
			{at: 0, send: 3000, sent: 3000},
			{at: 100 * time.Millisecond, spec: "10/s", send: 1, sent: 0, next: time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			w, ok := newWindow(tt.spec, clock.Now)
			if !ok {
				t.Fatalf("newWindow(%q) failed", tt.spec)
			}
			for i, s := range tt.steps {
				clock.Set(start.Add(s.at))
				if s.spec != "" {
					if w, ok = w.resize(s.spec); !ok {
						t.Fatalf("step %d: resize(%q) failed", i, s.spec)
					}
				}
				if sent := sendAll(w, s.send); sent != s.sent {
					t.Errorf("step %d (at %s, %s): %d of %d sent, want %d", i, s.at, w.spec, sent, s.send, s.sent)
				}
				if s.sent < s.send {
					if next := w.next(); !next.Equal(start.Add(s.next)) {
						t.Errorf("step %d (at %s, %s): next send at %s, want %s", i, s.at, w.spec, next.Sub(start), s.next)
					}
				}
			}
		})
	}
}

// TestWindowSendsInFlight: a send holds its slot from its beginning, and
// the window counts it from its end, when the receiver surely has it.
func TestWindowSendsInFlight(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	w, _ := newWindow("2/s", clock.Now)
	for i := range 2 {
		if ok, _ := w.begin(); !ok {
			t.Fatalf("send %d refused", i)
		}
	}
	ok, next := w.begin()
	if ok || !next.IsZero() {
		t.Fatalf("third send in flight: begin = %v, %v; want refused until a send ends (zero time)", ok, next)
	}
	clock.Set(start.Add(300 * time.Millisecond))
	w.end()
	clock.Set(start.Add(400 * time.Millisecond))
	w.end()
	if ok, next := w.begin(); ok || !next.Equal(start.Add(1300*time.Millisecond)) {
		t.Fatalf("after two sends that ended at 0.3s and 0.4s: begin = %v, %s; want refused until 1.3s", ok, next.Sub(start))
	}
	if w.idle() {
		t.Fatal("window idle with two sends in it")
	}
	clock.Set(start.Add(1300 * time.Millisecond))
	if got := w.room(); got != 1 {
		t.Fatalf("room at 1.3s = %d, want 1", got)
	}
	clock.Set(start.Add(1400 * time.Millisecond))
	if !w.idle() {
		t.Fatal("window not idle a period after its last send")
	}
}

// TestWindowIdleKeepsNoMemory: once its sends are a period old, a window
// lets its log go.
func TestWindowIdleKeepsNoMemory(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	w, _ := newWindow("10/s", clock.Now)
	if sent := sendAll(w, 3); sent != 3 {
		t.Fatalf("%d of 3 sent", sent)
	}
	clock.Set(start.Add(time.Second))
	if !w.idle() {
		t.Fatal("window not idle a period after its sends")
	}
	if c := cap(w.log); c != 0 {
		t.Errorf("idle window keeps room for %d sends, want 0", c)
	}
}

// TestWindowLargeLimitsStaySmall: however high the limit, a window holds
// about windowSlices entries, and one per send below exactMax.
func TestWindowLargeLimitsStaySmall(t *testing.T) {
	for _, spec := range []string{"999999999/s", "999999999/h", "1000/m"} {
		clock := newFakeClock()
		start := clock.Now()
		w, ok := newWindow(spec, clock.Now)
		if !ok {
			t.Fatalf("newWindow(%q) failed", spec)
		}
		most := 0
		for i := range 100_000 {
			clock.Set(start.Add(time.Duration(i) * w.per / 25_000)) // 4 periods
			sendAll(w, 1)
			most = max(most, len(w.log))
		}
		limit := windowSlices + 1
		if w.n <= exactMax {
			limit = w.n
		}
		if most > limit {
			t.Errorf("%s: the log held %d entries, want at most %d", spec, most, limit)
		}
	}
}
