package badgerstore

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Badger memory-maps its write-ahead logs and tables as sparse files: a
// write into a page the filesystem cannot back kills the process with
// SIGBUS, in whatever goroutine Badger happens to write from. No error
// reaches the caller. So the store watches the free space of its
// filesystem itself and stops writing while enough is left for what
// Badger still writes on its own once writes stop: flushing the memtables
// to level 0 and one compaction of a full level 0 (see reserveFor).

// ErrNoSpace is returned by writes while the store's filesystem has less
// free space than the reserve; see Health. It matches webhook.ErrUnavailable.
var ErrNoSpace error = webhook.UnavailableError("not enough free disk space for the webhooks store")

// spaceCheckEvery is how often the guard asks the filesystem while it has
// plenty of room; between two checks it counts what the store wrote
// itself. Within twice the reserve it asks before every write (a statfs
// costs a microsecond), so another program filling the disk is seen at
// once, and storing resumes as soon as space is back.
const spaceCheckEvery = 100 * time.Millisecond

// writeAmplification is how many bytes of disk a byte committed takes
// before the reserve is reached: its write-ahead log entry, then its table.
const writeAmplification = 2

// spaceGuard refuses writes while the free space of the store's
// filesystem, less what was written since it was last asked, is below the
// reserve.
type spaceGuard struct {
	dir     string
	reserve uint64
	statfs  func(dir string) (uint64, error)
	now     func() time.Time
	notify  func(webhook.Health) // called on every change of status

	mu      sync.Mutex
	free    uint64    // at the last check
	checked time.Time // when
	written uint64    // bytes (times writeAmplification) written since
	health  webhook.Health
}

func newSpaceGuard(dir string, reserve uint64, notify func(webhook.Health)) *spaceGuard {
	return &spaceGuard{dir: dir, reserve: reserve, statfs: freeBytes, now: time.Now, notify: notify,
		health: webhook.Health{Status: "ok"}}
}

// allow is called before a write of about n bytes; it returns ErrNoSpace
// (wrapped with the figures) when the write must not happen.
func (g *spaceGuard) allow(n int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := uint64(n) * writeAmplification //nolint:gosec // G115: n is a byte count, not negative
	g.look(want)
	if g.health.Degraded() {
		return fmt.Errorf("%w: %s", ErrNoSpace, g.health.Reason)
	}
	g.written += want
	return nil
}

// Health returns the current status, asking the filesystem if the last
// answer is old.
func (g *spaceGuard) Health() webhook.Health {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.look(0)
	return g.report()
}

// report is the status with the figures as they are now (in a DiskSpace
// of its own: the caller may keep it).
func (g *spaceGuard) report() webhook.Health {
	h := g.health
	h.Backend = "badger"
	h.DiskSpace = &webhook.DiskSpace{FreeBytes: g.left(), ReserveBytes: g.reserve}
	return h
}

// look asks the filesystem when its last answer is old or the store is
// near the reserve, and sets the status for a write of want bytes. Once
// degraded, writes resume only a sixteenth of the reserve above it, so
// that the status does not flap with every table Badger flushes.
func (g *spaceGuard) look(want uint64) {
	if g.now().Sub(g.checked) >= spaceCheckEvery || g.left() < 2*g.reserve+want {
		g.check()
	}
	resume := g.reserve + g.reserve/16
	switch {
	case g.left() < g.reserve+want || (g.health.Degraded() && g.left() < resume+want):
		g.set(fmt.Sprintf("%d bytes free on the store's filesystem: writes stop below %d and resume from %d",
			g.left(), g.reserve, resume))
	case g.health.Degraded():
		g.set("")
	}
}

// check asks the filesystem. An error (the directory gone) counts as no
// space: writing blind is what kills the process.
func (g *spaceGuard) check() {
	free, err := g.statfs(g.dir)
	if err != nil {
		free = 0
	}
	g.free, g.checked, g.written = free, g.now(), 0
}

func (g *spaceGuard) left() uint64 {
	if g.written >= g.free {
		return 0
	}
	return g.free - g.written
}

// set moves to degraded (reason != "") or back to ok, telling notify of a
// change of status.
func (g *spaceGuard) set(reason string) {
	was := g.health.Degraded()
	if reason == "" {
		g.health = webhook.Health{Status: "ok"}
	} else {
		if !was {
			g.health.Since = g.now()
		}
		g.health.Status, g.health.Reason = "degraded", reason
	}
	if was != g.health.Degraded() && g.notify != nil {
		g.notify(g.report())
	}
}
