package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// The commit log makes synced commits durable more cheaply than DB.Sync.
// Badger's write-ahead log is a sparse file written through a memory
// mapping: each DB.Sync msyncs it (and the value log), and each sync of a
// page written for the first time makes the filesystem commit its journal
// too (the page's block was allocated). The commit log is a file of its
// own, made of zeros written out before it is used, so that appending a
// record and fdatasyncing it writes the record and nothing else: no block
// to allocate, no size to change. The commits are written to Badger as
// before, without a sync; the log holds them until Badger's own files are
// synced, and at Open the store writes again those Badger lost (a power
// loss or a crash of the OS: a killed process loses nothing of either, the
// page cache keeps both).
//
// Which commits Badger lost is read from Badger itself (replay.go): a
// commit's events are written in one transaction, which Badger keeps whole
// or not at all, and events are never deleted but by their retention; so
// a commit whose first event Badger does not hold, and whose retention has
// not passed, was lost. Badger does not keep a prefix of its transactions
// (a full memtable's log is not synced when the next one starts, and a
// later one's pages may reach the disk first), so each commit is looked
// up; the store still syncs a full memtable's log a batch after it fills,
// as it did before the log, so that a crash loses no older write of
// Badger's while keeping a newer one but in that window (a commit written
// again there would land after later changes: an older snapshot back, a
// delivery out of its order). A value long enough for Badger's value log
// is not logged: the key Badger holds would not prove that the value
// survived, so its batch syncs Badger instead.
//
// The file grows in chunks of zeros (a MiB) up to its size, then starts
// again at its beginning: the store first syncs Badger (DB.Sync and the
// sealed logs), which makes every record in the log redundant. A record is read
// only if its checksum holds and its number follows the one before, so
// the older records left after the newer ones end the scan.

const (
	commitLogName = "commits.log"
	// commitLogSize is the most the log grows to before it starts again;
	// each start costs one DB.Sync.
	commitLogSize = 16 << 20
	// commitLogChunk is how much the log grows at a time.
	commitLogChunk = 1 << 20
	// recordHeader: the payload's length, its CRC-32C (with the number),
	// the record's number.
	recordHeader = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// commitLog is the log file; only the syncer writes it, after Open.
type commitLog struct {
	f       *os.File
	size    int64 // zeros written and synced up to here
	maxSize int64
	off     int64  // where the next record goes
	next    uint64 // the next record's number
	buf     []byte
	failed  bool // after a write failed: not written any more
	logger  *zap.Logger
	// datasync makes the records written durable (fdatasync where there
	// is one).
	datasync func(*os.File) error
}

// logRecord is a record read back: its number and its payload.
type logRecord struct {
	seq     uint64
	payload []byte
}

// openCommitLog opens (or creates) the log in dir and reads its records.
func openCommitLog(dir string, maxSize int64, logger *zap.Logger) (*commitLog, []logRecord, error) {
	f, err := os.OpenFile(filepath.Join(dir, commitLogName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the commit log: %w", err)
	}
	data, err := io.ReadAll(f)
	if err == nil && len(data) == 0 {
		err = syncDir(dir) // the new file's name
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("reading the commit log: %w", err)
	}
	l := &commitLog{f: f, size: int64(len(data)), maxSize: maxSize, datasync: datasync, logger: logger}
	recs := scanRecords(data)
	// Numbers go on from the clock's nanoseconds (or the last record's, if
	// ahead): the records of an earlier run, left after this run's, then
	// always have lower numbers, even when none of them was read.
	l.next = uint64(max(time.Now().UnixNano(), 1)) //nolint:gosec // G115: positive
	if len(recs) > 0 {
		l.next = max(l.next, recs[len(recs)-1].seq+1)
	}
	return l, recs, nil
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error { return syncClose(os.Open(dir)) }

// scanRecords reads the records from the start of data: those whose
// checksum holds, each numbered one more than the one before, up to the
// first that is not.
func scanRecords(data []byte) []logRecord {
	var recs []logRecord
	for len(data) >= recordHeader {
		n := binary.BigEndian.Uint32(data[0:4])
		sum := binary.BigEndian.Uint32(data[4:8])
		seq := binary.BigEndian.Uint64(data[8:16])
		if n == 0 || int64(n) > int64(len(data)-recordHeader) || seq == 0 {
			break
		}
		if len(recs) > 0 && seq != recs[len(recs)-1].seq+1 {
			break
		}
		payload := data[recordHeader : recordHeader+int(n)]
		if crc32.Update(crc32.Checksum(data[8:16], castagnoli), castagnoli, payload) != sum {
			break
		}
		recs = append(recs, logRecord{seq: seq, payload: payload})
		data = data[recordHeader+int(n):]
	}
	return recs
}

// appendRecord adds a record to b, its payload appended by payload.
func appendRecord(b []byte, seq uint64, payload func([]byte) []byte) []byte {
	start := len(b)
	b = payload(append(b, make([]byte, recordHeader)...))
	h, p := b[start:start+recordHeader], b[start+recordHeader:]
	binary.BigEndian.PutUint32(h[0:4], uint32(len(p))) //nolint:gosec // G115: a batch's record is a few MiB at most
	binary.BigEndian.PutUint64(h[8:16], seq)
	binary.BigEndian.PutUint32(h[4:8], crc32.Update(crc32.Checksum(h[8:16], castagnoli), castagnoli, p))
	return b
}

// errLogFull says that records do not fit in what is left of the log:
// the caller syncs Badger instead, and the log starts again (rewind).
var errLogFull = errors.New("the commit log is full")

// write appends records (appendRecord's, numbered from l.next on) and
// makes them durable; next is the number after the last.
func (l *commitLog) write(recs []byte, next uint64) error {
	end := l.off + int64(len(recs))
	if end > l.maxSize {
		return errLogFull
	}
	if err := l.grow(end); err != nil {
		// A full disk, most likely: the log stays the size it has, and
		// this time Badger is synced instead.
		l.maxSize = l.size
		l.logger.Warn("the commit log cannot grow: it stays at its size, and Badger is synced each time it is full",
			zap.Int64("bytes", l.size), zap.Error(err))
		return fmt.Errorf("%w: %w", errLogFull, err)
	}
	if _, err := l.f.WriteAt(recs, l.off); err != nil {
		return fmt.Errorf("writing the commit log: %w", err)
	}
	if err := l.datasync(l.f); err != nil {
		return fmt.Errorf("syncing the commit log: %w", err)
	}
	l.off, l.next = end, next
	return nil
}

// grow writes zeros, a chunk at a time, until the file holds end bytes.
func (l *commitLog) grow(end int64) error {
	if end <= l.size {
		return nil
	}
	size := min(l.maxSize, (end+commitLogChunk-1)/commitLogChunk*commitLogChunk)
	if _, err := l.f.WriteAt(make([]byte, size-l.size), l.size); err != nil {
		return fmt.Errorf("growing the commit log: %w", err)
	}
	// The file's new size too: a full sync.
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("growing the commit log: %w", err)
	}
	l.size = size
	return nil
}

// rewind starts the log again at its beginning, once Badger's own files
// hold every record in it.
func (l *commitLog) rewind() { l.off = 0 }

func (l *commitLog) Close() error { return l.f.Close() }
