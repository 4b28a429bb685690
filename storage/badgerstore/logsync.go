package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Badger's DB.Sync makes durable what was written to the current
// memtable's write-ahead log (a .mem file) and to the current value log
// file (.vlog), not to the ones before them. When a memtable fills,
// Badger starts a new one and flushes the full one to a level-0 table in
// the background, without syncing its log first; so does a value log file
// that fills. A commit written just before such a switch and synced just
// after it would be reported durable while its records were only in the
// page cache until the flush ended: a power loss or a crash of the OS (not
// of the process) in that window would lose it.
//
// sealedLogs closes the gap: after each DB.Sync it syncs once each log
// file that stopped being current since the last one. Badger numbers each
// kind of log file in order (a new one is the last plus one), and a log
// is deleted once flushed to a table (synced when written), so the files
// that stopped being current are those between the last current one and
// the newest. Numbers have gaps: a log is deleted only when nothing reads
// its memtable any more, so a long read can keep an old one while newer
// ones come and go. The directory is listed when it changed since the last
// listing (a file created or deleted changes its modification time) or
// the file after a current one exists: three stats per sync otherwise.
type sealedLogs struct {
	// mu serializes syncSealed: the syncer calls it after each append to
	// the commit log, syncCommitted (admin changes) after DB.Sync.
	mu    sync.Mutex
	dir   string
	kinds []*logKind
	fsync func(path string) error
	// listed is the directory's modification time when it was last
	// listed; zero when it must be listed again whatever it says.
	listed time.Time
}

// logKind is one kind of log file, and the number of the file that was
// current at the last sync.
type logKind struct {
	ext     string // ".mem" or ".vlog"
	digits  int    // Badger's names: %05d.mem, %06d.vlog
	current uint64
}

// mtimeMargin is how much older than a listing the directory's
// modification time must be for the next listings to rely on it:
// filesystems stamp times from a clock that moves in ticks of a few
// milliseconds, so a change made in the same tick as a listing, just
// after it, could leave the time as it was.
const mtimeMargin = 100 * time.Millisecond

// openSealedLogs syncs every log file in dir but the current one of each
// kind (logs left by an earlier run: Badger replays them at Open, and a
// process that was killed left their last writes in the page cache
// only), and then follows the current ones. fsync makes a file durable
// (fsyncFile).
func openSealedLogs(dir string, fsync func(path string) error) (*sealedLogs, error) {
	l := &sealedLogs{dir: dir, fsync: fsync, kinds: []*logKind{{ext: ".mem", digits: 5}, {ext: ".vlog", digits: 6}}}
	names, err := l.list()
	if err != nil {
		return nil, err
	}
	for _, k := range l.kinds {
		ids := k.ids(names)
		if len(ids) == 0 {
			continue // Badger opens one of each: not met but by a test
		}
		k.current = ids[len(ids)-1]
		for _, id := range ids[:len(ids)-1] {
			if err := l.sync(k, id); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// list reads the names in the directory, and notes its modification time
// if the next listings may rely on it.
func (l *sealedLogs) list() ([]string, error) {
	at := time.Now()
	d, err := os.Open(l.dir)
	if err != nil {
		return nil, fmt.Errorf("listing the logs: %w", err)
	}
	defer d.Close()
	fi, err := d.Stat() // before reading: a change meanwhile moves the time
	if err != nil {
		return nil, fmt.Errorf("listing the logs: %w", err)
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing the logs: %w", err)
	}
	l.listed = time.Time{}
	if fi.ModTime().Before(at.Add(-mtimeMargin)) {
		l.listed = fi.ModTime()
	}
	return names, nil
}

// changed reports whether the directory may have changed since the last
// listing. The file after each current one is looked for too, so that a
// switch is seen on a filesystem that does not keep directories'
// modification times.
func (l *sealedLogs) changed() bool {
	if l.listed.IsZero() {
		return true
	}
	for _, k := range l.kinds {
		if _, err := os.Lstat(k.path(l.dir, k.current+1)); err == nil {
			return true
		}
	}
	fi, err := os.Stat(l.dir)
	return err != nil || !fi.ModTime().Equal(l.listed)
}

// ids lists the numbers of the files of kind k among names, in increasing
// order.
func (k *logKind) ids(names []string) []uint64 {
	var ids []uint64
	for _, n := range names {
		num, ok := strings.CutSuffix(n, k.ext)
		if !ok {
			continue
		}
		if id, err := strconv.ParseUint(num, 10, 32); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // not by name: Badger's numbers outgrow their padding
	return ids
}

func (k *logKind) path(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d%s", k.digits, id, k.ext))
}

// syncSealed syncs the log files that stopped being current since the
// last call (after DB.Sync, which synced the current ones). A file found
// current and then sealed between the two is synced twice: harmless. On
// an error, the files not synced are tried again by the next call.
func (l *sealedLogs) syncSealed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.changed() {
		return nil // no file created: no log stopped being current
	}
	names, err := l.list()
	if err != nil {
		return err
	}
	for _, k := range l.kinds {
		if err := l.follow(k, k.ids(names)); err != nil {
			l.listed = time.Time{} // list again next time
			return err
		}
	}
	return nil
}

// follow syncs the files of kind k, among ids (those in the directory),
// from the current one up to the newest, which becomes current.
func (l *sealedLogs) follow(k *logKind, ids []uint64) error {
	if len(ids) == 0 || ids[len(ids)-1] <= k.current {
		return nil
	}
	newest := ids[len(ids)-1]
	for _, id := range ids {
		if id < k.current || id >= newest {
			continue
		}
		if err := l.sync(k, id); err != nil {
			return err
		}
		k.current = id // the ones before are synced
	}
	k.current = newest
	return nil
}

// sync syncs one sealed file; one already gone was flushed to a table
// (synced when written) and deleted.
func (l *sealedLogs) sync(k *logKind, id uint64) error {
	err := l.fsync(k.path(l.dir, id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("syncing a sealed log: %w", err)
	}
	return nil
}

// fsyncFile syncs a file through a descriptor of its own: the kernel
// writes back the file's dirty pages whichever mapping or descriptor
// dirtied them.
func fsyncFile(path string) error { return syncClose(os.OpenFile(path, os.O_RDWR, 0)) }

// syncClose syncs and closes a file just opened (or returns the error of
// opening it).
func syncClose(f *os.File, err error) error {
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
