package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// syncRecorder records the files a sealedLogs syncs.
type syncRecorder struct {
	mu    sync.Mutex
	paths []string
	err   error // returned for every file
}

func (r *syncRecorder) fsync(path string) error {
	if _, err := os.Lstat(path); err != nil {
		return os.ErrNotExist // as opening it would
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, filepath.Base(path))
	return r.err
}

// take returns the files synced since the last take.
func (r *syncRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.paths
	r.paths = nil
	return p
}

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSealedLogs(t *testing.T) {
	dir := t.TempDir()
	// What a store left by an earlier run may hold: logs Badger replays,
	// tables and files that are no logs.
	touch(t, dir, "00003.mem", "00004.mem", "000001.vlog", "000002.vlog", "000007.sst", "MANIFEST", "KEYREGISTRY", "x.mem.tmp")
	rec := &syncRecorder{}
	logs, err := openSealedLogs(dir, rec.fsync)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.take(), []string{"00003.mem", "000001.vlog"}; !slices.Equal(got, want) {
		t.Errorf("at open, synced %v, want %v (every log but the current one of each kind)", got, want)
	}

	steps := []struct {
		name   string
		create []string
		remove []string
		want   []string
	}{
		{name: "no switch", want: nil},
		{name: "a memtable switch", create: []string{"00005.mem"}, want: []string{"00004.mem"}},
		{name: "two switches of each", create: []string{"00006.mem", "00007.mem", "000003.vlog", "000004.vlog"}, want: []string{"00005.mem", "00006.mem", "000002.vlog", "000003.vlog"}},
		{name: "a sealed log already flushed and deleted", create: []string{"00008.mem"}, remove: []string{"00007.mem"}, want: nil},
		{name: "nothing new", want: nil},
		// Many switches between two syncs: the current file and the next
		// ones flushed and deleted already (their tables are synced).
		{name: "switches past gaps", create: []string{"00012.mem", "00013.mem"}, remove: []string{"00008.mem"}, want: []string{"00012.mem"}},
		{name: "nothing new after gaps", want: nil},
		// A flushed file deleted before an older one still being read.
		{name: "the next one gone first", create: []string{"00015.mem"}, want: []string{"00013.mem"}},
		// A long read keeps the current file's memtable, and so its log,
		// while the next ones are flushed and deleted and one more is
		// sealed: both kept files stopped being current.
		{name: "the current one kept past a gap", create: []string{"00019.mem", "00020.mem"}, want: []string{"00015.mem", "00019.mem"}},
		// Badger pads .mem numbers to five digits, then they grow.
		{name: "numbers past their padding", create: []string{"100000.mem"}, remove: []string{"00015.mem", "00019.mem"}, want: []string{"00020.mem"}},
	}
	for _, st := range steps {
		touch(t, dir, st.create...)
		for _, n := range st.remove {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := logs.syncSealed(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := rec.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s: synced %v, want %v", st.name, got, st.want)
		}
	}
}

func TestSealedLogsErrors(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "00001.mem")
	rec := &syncRecorder{err: errors.New("input/output error")}
	logs, err := openSealedLogs(dir, rec.fsync)
	if err != nil {
		t.Fatal(err)
	}
	touch(t, dir, "00002.mem")
	if err := logs.syncSealed(); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("a failed fsync: got %v, want its error", err)
	}
	// The failed file is tried again by the next sync, not skipped.
	rec.err = nil
	rec.take()
	if err := logs.syncSealed(); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"00001.mem"}) {
		t.Errorf("after a failure, synced %v, want 00001.mem again", got)
	}
	if _, err := openSealedLogs(filepath.Join(dir, "missing"), rec.fsync); err == nil {
		t.Error("a store directory that cannot be listed: no error")
	}
}

// A synced commit written to a memtable that Badger replaces before the
// syncer's fsync is made durable too: the syncer syncs the replaced
// memtable's log, which Badger's DB.Sync leaves out.
func TestSyncCoversReplacedMemtable(t *testing.T) {
	s := openTest(t)
	rec := &syncRecorder{}
	s.syncMu.Lock()
	s.logs.fsync = rec.fsync
	s.syncMu.Unlock()

	data, _ := json.Marshal(map[string]string{"blob": strings.Repeat("x", 4000)})
	now := time.Now()
	written := 0
	for written < 6*memTableSize {
		evs := make([]webhook.Event, 16)
		for i := range evs {
			evs[i] = webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: data}
			written += len(data)
		}
		if err := s.Commit(context.Background(), evs, nil); err != nil {
			t.Fatal(err)
		}
		if synced := rec.take(); len(synced) > 0 {
			if !strings.HasSuffix(synced[0], ".mem") {
				t.Fatalf("synced %v, want a memtable's log", synced)
			}
			return
		}
	}
	t.Fatalf("%d MiB committed in 8 MiB memtables, and no replaced memtable's log was synced", written>>20)
}

// TestSealedLogsListOnlyOnChange checks that a sync lists the directory
// only when it changed since the last listing, and that a change is seen.
func TestSealedLogsListOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "00001.mem", "000001.vlog")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	rec := &syncRecorder{}
	logs, err := openSealedLogs(dir, rec.fsync)
	if err != nil {
		t.Fatal(err)
	}
	if !logs.listed.Equal(old) {
		t.Fatalf("after a listing of a directory unchanged for an hour, listed = %v, want its time %v", logs.listed, old)
	}
	if logs.changed() {
		t.Error("an unchanged directory is reported changed: every sync would list it")
	}
	touch(t, dir, "00002.mem")
	if !logs.changed() {
		t.Fatal("a file created is not seen")
	}
	// Where the directory's time does not move, the next log is seen.
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	if !logs.changed() {
		t.Fatal("the next log is not seen when the directory's time stays")
	}
	now := time.Now()
	if err := os.Chtimes(dir, now, now); err != nil {
		t.Fatal(err)
	}
	if err := logs.syncSealed(); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"00001.mem"}) {
		t.Errorf("synced %v, want 00001.mem", got)
	}
	// Listed just after a change: the time is not relied on (a change in
	// the same tick of the filesystem's clock would not move it).
	if !logs.listed.IsZero() || !logs.changed() {
		t.Errorf("a directory changed %v ago is relied on (listed = %v)", mtimeMargin, logs.listed)
	}
}
