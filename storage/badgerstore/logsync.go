package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// kind of log file in order (a new one is the last plus one), so one stat
// per kind tells whether a switch happened.
type sealedLogs struct {
	dir   string
	kinds []*logKind
	fsync func(path string) error
}

// logKind is one kind of log file, and the number of the file that was
// current at the last sync.
type logKind struct {
	ext     string // ".mem" or ".vlog"
	digits  int    // Badger's names: %05d.mem, %06d.vlog
	current uint64
	// probes are the paths of the files current+1, current+2 and current,
	// looked for at every sync: made once per switch, not per sync.
	probes [3]string
}

// openSealedLogs syncs every log file in dir but the current one of each
// kind (logs left by an earlier run: Badger replays them at Open, and a
// process that was killed left their last writes in the page cache
// only), and then follows the current ones. fsync makes a file durable
// (fsyncFile).
func openSealedLogs(dir string, fsync func(path string) error) (*sealedLogs, error) {
	l := &sealedLogs{dir: dir, fsync: fsync, kinds: []*logKind{{ext: ".mem", digits: 5}, {ext: ".vlog", digits: 6}}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the logs: %w", err)
	}
	for _, k := range l.kinds {
		ids := k.ids(entries)
		if len(ids) == 0 {
			k.setCurrent(dir, 0) // Badger opens one of each: not met but by a test
			continue
		}
		k.setCurrent(dir, ids[len(ids)-1])
		for _, id := range ids[:len(ids)-1] {
			if err := l.sync(k, id); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// ids lists the numbers of the files of kind k among entries, in order
// (os.ReadDir sorts by name, and Badger pads the numbers).
func (k *logKind) ids(entries []os.DirEntry) []uint64 {
	var ids []uint64
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), k.ext)
		if !ok || e.IsDir() {
			continue
		}
		if id, err := strconv.ParseUint(num, 10, 32); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

func (k *logKind) setCurrent(dir string, id uint64) {
	k.current = id
	k.probes = [3]string{k.path(dir, id+1), k.path(dir, id+2), k.path(dir, id)}
}

func (k *logKind) path(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d%s", k.digits, id, k.ext))
}

// syncSealed syncs the log files that stopped being current since the
// last call (after DB.Sync, which synced the current ones). A file found
// current and then sealed between the two is synced twice: harmless.
func (l *sealedLogs) syncSealed() error {
	for _, k := range l.kinds {
		if err := l.follow(k); err != nil {
			return err
		}
	}
	return nil
}

// follow syncs the files of kind k from the current one up to the newest.
func (l *sealedLogs) follow(k *logKind) error {
	for {
		newer, err := l.newer(k)
		if err != nil || newer == 0 {
			return err
		}
		for id := k.current; id < newer; id++ {
			if err := l.sync(k, id); err != nil {
				return err
			}
		}
		k.setCurrent(l.dir, newer)
	}
}

// newer returns the number of a file of kind k newer than the current
// one, 0 if there is none. Files are deleted once flushed to a table, so
// the numbers have gaps: many switches between two syncs (asynchronous
// commits do not sync) leave the current file and the next ones gone, and
// a flushed file may go before an older one still being read. So the next
// two numbers are looked for, and the directory read when the current
// file is gone too.
func (l *sealedLogs) newer(k *logKind) (uint64, error) {
	for i, p := range k.probes[:2] {
		if exists(p) {
			return k.current + 1 + uint64(i), nil
		}
	}
	if exists(k.probes[2]) {
		return 0, nil
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return 0, fmt.Errorf("listing the logs: %w", err)
	}
	ids := k.ids(entries)
	if len(ids) == 0 || ids[len(ids)-1] <= k.current {
		return 0, nil
	}
	return ids[len(ids)-1], nil
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

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// fsyncFile syncs a file through a descriptor of its own: the kernel
// writes back the file's dirty pages whichever mapping or descriptor
// dirtied them.
func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
