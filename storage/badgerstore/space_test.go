package badgerstore

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// fakeDisk is a filesystem whose free space the test sets, read through
// the guard's statfs, on a clock the test moves.
type fakeDisk struct {
	free  uint64
	calls int
	now   time.Time
}

func newTestGuard(d *fakeDisk, reserve uint64, notes *[]webhook.Health) *spaceGuard {
	g := newSpaceGuard("/x", reserve, func(h webhook.Health) { *notes = append(*notes, h) })
	g.statfs = func(string) (uint64, error) { d.calls++; return d.free, nil }
	g.now = func() time.Time { return d.now }
	return g
}

func TestSpaceGuard(t *testing.T) {
	d := &fakeDisk{free: 1000, now: time.Unix(1e9, 0)}
	var notes []webhook.Health
	g := newTestGuard(d, 500, &notes)

	// With plenty of room, writes are counted between two looks at the
	// filesystem: 200 bytes take 400 (log, then table).
	d.free = 10_000
	for range 2 {
		if err := g.allow(100); err != nil {
			t.Fatal(err)
		}
	}
	if d.calls != 1 {
		t.Fatalf("%d statfs calls for two writes with plenty of room, want 1", d.calls)
	}
	if h := g.Health(); h.Degraded() || h.FreeBytes != 9_600 {
		t.Errorf("health after two writes: %+v", h)
	}

	// Within twice the reserve, every write asks: another program may be
	// filling the disk.
	d.free = 1000
	d.now = d.now.Add(spaceCheckEvery)
	if err := g.allow(100); err != nil {
		t.Fatal(err)
	}
	d.free = 450 // below the reserve
	if err := g.allow(100); !errors.Is(err, ErrNoSpace) || !errors.Is(err, webhook.ErrUnavailable) {
		t.Fatalf("write crossing the reserve: %v, want ErrNoSpace", err)
	}
	if h := g.Health(); !h.Degraded() || h.FreeBytes != 450 || h.ReserveBytes != 500 || h.Since.IsZero() {
		t.Errorf("health while short: %+v", h)
	}
	if d.calls != 4 { // the look at the reset clock, the write's, the health's
		t.Fatalf("%d statfs calls, want 4", d.calls)
	}
	if len(notes) != 1 || !notes[0].Degraded() {
		t.Fatalf("notes: %+v, want one: degraded", notes)
	}

	// Still short, and also just above the reserve: refused until a
	// sixteenth of it more is free, without telling twice.
	for _, free := range []uint64{400, 520, 530} {
		d.free = free
		if err := g.allow(1); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("write with %d free: %v", free, err)
		}
	}
	if len(notes) != 1 {
		t.Fatalf("notes: %+v, want still one", notes)
	}

	// Space is back: the next write sees it.
	d.free = 10_000
	if err := g.allow(20); err != nil {
		t.Fatalf("write once space is back: %v", err)
	}
	if h := g.Health(); h.Degraded() || h.Reason != "" {
		t.Errorf("health once space is back: %+v", h)
	}
	if len(notes) != 2 || notes[1].Degraded() {
		t.Fatalf("notes: %+v, want degraded then ok", notes)
	}

	// Health on its own looks at the filesystem, so that a store no one
	// writes to still reports a full disk.
	d.now = d.now.Add(spaceCheckEvery)
	d.free = 100
	if h := g.Health(); !h.Degraded() || len(notes) != 3 {
		t.Errorf("health of an idle store on a full disk: %+v, notes %d", h, len(notes))
	}
}

// TestSpaceGuardStatfsError: a filesystem that cannot be asked (the
// directory gone) counts as full: writing blind is what crashes.
func TestSpaceGuardStatfsError(t *testing.T) {
	var notes []webhook.Health
	g := newSpaceGuard("/x", 10, func(h webhook.Health) { notes = append(notes, h) })
	g.statfs = func(string) (uint64, error) { return 0, errors.New("gone") }
	if err := g.allow(1); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("allow: %v", err)
	}
}

// TestOpenRefusedOnFullDisk: Open does not start Badger (which writes as
// it opens) on a filesystem short of the reserve.
func TestOpenRefusedOnFullDisk(t *testing.T) {
	_, err := Open(Options{Dir: t.TempDir(), Reserve: 1 << 62})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Open with a reserve larger than any disk: %v, want ErrNoSpace", err)
	}
}

// TestCloseOnFullDiskReleasesLaterForReopen: a store closed while its
// disk is short of space is left unflushed, but once there is room it is
// closed for real, so that the same process can open the directory again
// (Badger's directory lock is held until then: a reload back to this
// storage would never get the store).
func TestCloseOnFullDiskReleasesLaterForReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	free := uint64(0)
	s.space.statfs = func(string) (uint64, error) { mu.Lock(); defer mu.Unlock(); return free, nil }
	s.space.checked = time.Time{} // ask the filesystem at once
	if err := s.Close(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Close on a full disk: %v, want ErrNoSpace (left unflushed)", err)
	}
	mu.Lock()
	free = 1 << 62
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s2, err := Open(Options{Dir: dir})
		if err == nil {
			s2.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reopening once there is room: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
