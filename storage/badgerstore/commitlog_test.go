package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func record(seq uint64, payload string) []byte {
	return appendRecord(nil, seq, func(b []byte) []byte { return append(b, payload...) })
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestScanRecords(t *testing.T) {
	torn := record(3, "ccc")
	torn[len(torn)-1] ^= 1
	cut := record(3, "ccc")
	tests := []struct {
		name string
		data []byte
		want []uint64
	}{
		{"empty", nil, nil},
		{"zeros", make([]byte, 4096), nil},
		{"in order", join(record(1, "a"), record(2, "bb"), record(3, "ccc"), make([]byte, 64)), []uint64{1, 2, 3}},
		{"any first number", join(record(41, "a"), record(42, "b")), []uint64{41, 42}},
		{"torn last record", join(record(1, "a"), record(2, "bb"), torn), []uint64{1, 2}},
		{"cut short", join(record(1, "a"), record(2, "bb"), cut[:len(cut)-1]), []uint64{1, 2}},
		// A log started again: the older records after the newer ones
		// are not read, nor what is left of one overwritten in part.
		{"older records after", join(record(9, "newer"), record(10, "newer"), record(4, "old"), record(5, "old")), []uint64{9, 10}},
		{"remains of an older one", join(record(9, "n"), record(7, "an older record")[5:], record(10, "x")), []uint64{9}},
		{"a gap", join(record(1, "a"), record(3, "c")), []uint64{1}},
		{"number zero", join(record(0, "a")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			for _, r := range scanRecords(tt.data) {
				got = append(got, r.seq)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("records %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBatchRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{"id":1}`)}
	val, err := ev.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	in := []*pending{
		{events: []webhook.Event{ev}, vals: [][]byte{val}, set: storage.Settings{Retention: time.Hour},
			snaps: []webhook.Snapshot{{Key: "order:1", Value: []byte(`{"status":"new"}`)}, {Key: "gone"}, {Key: "empty", Value: []byte{}}}},
		{snaps: []webhook.Snapshot{{Key: "k", Value: []byte(`1`)}}},
	}
	at, out, err := readBatch(appendBatch(nil, now, in))
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(now) || len(out) != 2 || out[0].set.Retention != time.Hour || out[0].events[0].ID != ev.ID || string(out[0].vals[0]) != string(val) {
		t.Fatalf("read back %+v", out[0])
	}
	snaps := out[0].snaps
	if snaps[0].Key != "order:1" || string(snaps[0].Value) != `{"status":"new"}` || snaps[1].Value != nil || snaps[2].Value == nil {
		t.Fatalf("snapshots read back %+v", snaps)
	}
	if _, _, err := readBatch(appendBatch(nil, now, in)[:10]); !errors.Is(err, errBadRecord) {
		t.Fatalf("a payload cut short: %v", err)
	}
}

// FuzzReadCommitLog gives each input to both readers of the commit log:
// as a file to scanRecords and as a record's payload to readBatch.
func FuzzReadCommitLog(f *testing.F) {
	now := time.Unix(1700000000, 0).UTC()
	ev := webhook.Event{ID: "evt_1", Name: "a.b", Time: now, Data: json.RawMessage(`{}`)}
	val, _ := ev.AppendJSON(nil)
	payload := appendBatch(nil, now, []*pending{{events: []webhook.Event{ev}, vals: [][]byte{val}, snaps: []webhook.Snapshot{{Key: "k", Value: []byte("1")}}}})
	f.Add(payload)
	f.Add(join(record(1, string(payload)), record(2, "bb")))
	f.Add(join(record(9, "n"), record(4, "old")))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rebuilt []byte
		for _, r := range scanRecords(data) {
			rebuilt = appendRecord(rebuilt, r.seq, func(b []byte) []byte { return append(b, r.payload...) })
		}
		if !bytes.HasPrefix(data, rebuilt) {
			t.Fatal("the records read are not those at the start of the data")
		}
		at, batch, err := readBatch(data)
		if err != nil {
			return
		}
		// What reads without an error is what would be written again.
		if again := appendBatch(nil, at, batch); len(again) > len(data) {
			t.Fatalf("read %d bytes into a batch of %d", len(data), len(again))
		}
	})
}

// commitSynced commits n synced events, one a commit, and returns their
// IDs.
func commitSynced(t *testing.T, s *Store, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		now := time.Now()
		ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{"n":1}`)}
		if err := s.Commit(context.Background(), []webhook.Event{ev}, []webhook.Snapshot{{Key: "order:" + ev.ID, Value: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func openAt(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.Configure(storage.Settings{Retention: time.Hour, Durability: webhook.Sync})
	return s
}

func closeStore(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func counts(t *testing.T, s *Store) webhook.Counts {
	t.Helper()
	c, err := s.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A power loss keeps what was synced: the commit log, not Badger's writes
// made since its last sync. Simulated with a copy of the store's files
// from before the commits, and the commit log from after them: at Open
// the store writes the lost commits again, with their deliveries.
func TestCommitLogReplaysWhatBadgerLost(t *testing.T) {
	live, lost := t.TempDir(), t.TempDir()
	s := openAt(t, Options{Dir: live})
	if err := s.PutSubscription(context.Background(), &webhook.Subscription{ID: "sub_a", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}); err != nil {
		t.Fatal(err)
	}
	commitSynced(t, s, 3)
	closeStore(t, s)
	copyDir(t, live, lost) // Badger synced this far (a clean close)

	s = openAt(t, Options{Dir: live})
	ids := commitSynced(t, s, 20)
	want := counts(t, s)
	closeStore(t, s)
	log, err := os.ReadFile(filepath.Join(live, commitLogName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lost, commitLogName), log, 0o600); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, Options{Dir: lost})
	got := counts(t, s)
	if got.Events != want.Events || got.Events != 23 {
		t.Fatalf("events after the replay: %d, want %d (23)", got.Events, want.Events)
	}
	if s.QueueDepth() != 23 {
		t.Fatalf("deliveries due after the replay: %d, want 23", s.QueueDepth())
	}
	if v, err := s.Snapshot(context.Background(), "order:"+ids[19]); err != nil || string(v) != `{}` {
		t.Fatalf("the last commit's snapshot after the replay: %q, %v", v, err)
	}
	commitSynced(t, s, 1) // numbered after the replayed ones
	closeStore(t, s)
	s = openAt(t, Options{Dir: lost})
	if got := counts(t, s); got.Events != 24 || s.QueueDepth() != 24 {
		t.Fatalf("after the next open: %d events, %d deliveries due, want 24 of each (nothing replayed twice)", got.Events, s.QueueDepth())
	}
}

// The log starts again once full, syncing Badger first: it never grows
// past its size, and what it held is not replayed again.
func TestCommitLogStartsAgainWhenFull(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 10
	s := openAt(t, Options{Dir: dir, commitLogSize: size})
	ids := commitSynced(t, s, 200) // ~200 bytes a record: several rounds of the log
	fi, err := os.Stat(filepath.Join(dir, commitLogName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("log of %d bytes, want %d", fi.Size(), size)
	}
	// Still written once full: its records end with the last commit.
	data, err := os.ReadFile(filepath.Join(dir, commitLogName))
	if err != nil {
		t.Fatal(err)
	}
	recs := scanRecords(data)
	if len(recs) == 0 || recs[len(recs)-1].seq != s.clog.next-1 {
		t.Fatalf("%d records in the log; next number %d", len(recs), s.clog.next)
	}
	if _, last, err := readBatch(recs[len(recs)-1].payload); err != nil || last[0].events[0].ID != ids[199] {
		t.Fatalf("the log's last record is not the last commit (%v)", err)
	}
	closeStore(t, s)
	s = openAt(t, Options{Dir: dir, commitLogSize: size})
	if got := counts(t, s); got.Events != 200 {
		t.Fatalf("events after reopening: %d, want 200", got.Events)
	}
}

// A log that fails is not written again: synced commits then sync Badger,
// as without a log, and succeed.
func TestCommitLogFailureFallsBack(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, Options{Dir: dir})
	calls := 0
	s.clog.datasync = func(*os.File) error { calls++; return errors.New("EIO") }
	commitSynced(t, s, 3)
	if calls != 1 || !s.clog.failed {
		t.Fatalf("datasync called %d times, failed=%v: want once, then not", calls, s.clog.failed)
	}
	closeStore(t, s)
	s = openAt(t, Options{Dir: dir})
	if got := counts(t, s); got.Events != 3 {
		t.Fatalf("events after reopening: %d, want 3", got.Events)
	}
}

// An encrypted store keeps no commit log: its records would hold the
// events in the clear.
func TestEncryptedStoreHasNoCommitLog(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, Options{Dir: dir, EncryptionKey: bytes.Repeat([]byte{7}, 32)})
	commitSynced(t, s, 2)
	if _, err := os.Stat(filepath.Join(dir, commitLogName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("commit log in an encrypted store: %v", err)
	}
	if got := counts(t, s); got.Events != 2 {
		t.Fatalf("events: %d", got.Events)
	}
}

// A logged commit past its retention is not written again (Badger would
// have dropped it), and one within it keeps only what is left of it.
func TestReplaySkipsExpiredCommits(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	now := time.Now()
	at := now.Add(-2 * time.Hour)
	commit := func(retention time.Duration) *pending { return logged(t, at, 1, retention)[0] }
	if err := s.PutSubscription(context.Background(), &webhook.Subscription{ID: "sub_a", URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}); err != nil {
		t.Fatal(err)
	}
	expired, kept, forever := commit(time.Hour), commit(3*time.Hour), commit(0)
	recs := []logRecord{{seq: 1, payload: appendBatch(nil, at, []*pending{expired, kept, forever})}}
	if err := s.replayCommits(recs, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range collect(t, s, time.Time{}) {
		got[e.ID] = true
	}
	if len(got) != 2 || !got[kept.events[0].ID] || !got[forever.events[0].ID] {
		t.Fatalf("events replayed %v, want %s and %s", got, kept.events[0].ID, forever.events[0].ID)
	}
	// Replayed again (a second open before the log is written over):
	// nothing is written twice.
	if err := s.replayCommits(recs, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, s, time.Time{})); n != 2 || s.QueueDepth() != 2 {
		t.Fatalf("%d events, %d deliveries after a second replay, want 2 of each", n, s.QueueDepth())
	}
}

// A record that reads wrong although its checksum holds does not keep the
// store from opening; those after it are still replayed.
func TestReplaySkipsUnreadableRecord(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	now := time.Now()
	good := logged(t, now, 1, 0)[0]
	ev := good.events[0]
	recs := []logRecord{{seq: 1, payload: []byte{0xff}}, {seq: 2, payload: appendBatch(nil, now, []*pending{good})}}
	if err := s.replayCommits(recs, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, s, time.Time{}); len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("events after the replay: %v", got)
	}
}

func logged(t *testing.T, at time.Time, n int, retention time.Duration) []*pending {
	t.Helper()
	var batch []*pending
	for i := 0; i < n; i++ {
		ev := webhook.Event{ID: webhook.NewID("evt_", at), Name: "order.created", Time: at, Data: json.RawMessage(`{"n":1}`)}
		val, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pending{events: []webhook.Event{ev}, vals: [][]byte{val}, set: storage.Settings{Retention: retention, Durability: webhook.Sync}})
	}
	return batch
}

// A batch that fitted in one transaction when it was made may not any
// more, fanned out to more subscriptions: it is written a commit at a
// time, and the store opens.
func TestReplaySplitsBatchTooBig(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	for i := 0; i <= 40; i++ {
		if err := s.PutSubscription(context.Background(), &webhook.Subscription{ID: fmt.Sprintf("sub_%d", i), URL: "http://x", Events: []string{"*"}, IsActive: true, Signature: "standard"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	batch := logged(t, now, 256, time.Hour)
	if _, err := s.writeBatch(batch); !errors.Is(err, badger.ErrTxnTooBig) {
		t.Fatalf("the batch in one transaction: %v, want ErrTxnTooBig (the test needs more subscriptions)", err)
	}
	if err := s.replayCommits([]logRecord{{seq: 1, payload: appendBatch(nil, now, batch)}}, time.Now); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, s, time.Time{})); n != 256 || s.QueueDepth() != 256*41 {
		t.Fatalf("%d events, %d deliveries after the replay, want 256 and %d", n, s.QueueDepth(), 256*41)
	}
}

// Badger expires a record at a whole second, from when it was written
// (after the log's time): a commit whose retention ends later in the
// second that has begun may be gone from Badger already, and is not
// written again.
func TestReplayExpiresInBadgersSeconds(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	at := time.Unix(time.Now().Unix()-3600, 500e6)
	now := at.Add(time.Hour - 300*time.Millisecond) // before at+1h, in its second
	if now.Unix() != at.Add(time.Hour).Unix() {
		t.Fatal("the test's times are not in one second")
	}
	if err := s.replayCommits([]logRecord{{seq: 1, payload: appendBatch(nil, at, logged(t, at, 1, time.Hour))}}, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, s, time.Time{})); n != 0 {
		t.Fatalf("%d events written again, want none", n)
	}
}

// A value Badger may keep in its value log is not logged: its batch syncs
// Badger, as without a log.
func TestLargeValuesSyncBadger(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, Options{Dir: dir})
	now := time.Now()
	big := webhook.Event{ID: webhook.NewID("evt_", now), Name: "doc.saved", Time: now,
		Data: json.RawMessage(`"` + strings.Repeat("x", s.valueThreshold/2) + `"`)}
	if err := s.Commit(context.Background(), []webhook.Event{big}, nil); err != nil {
		t.Fatal(err)
	}
	small := commitSynced(t, s, 1)
	data, err := os.ReadFile(filepath.Join(dir, commitLogName))
	if err != nil {
		t.Fatal(err)
	}
	recs := scanRecords(data)
	if len(recs) != 1 {
		t.Fatalf("%d records in the log, want 1 (the small commit's)", len(recs))
	}
	if _, batch, err := readBatch(recs[0].payload); err != nil || batch[0].events[0].ID != small[0] {
		t.Fatalf("the record is not the small commit (%v)", err)
	}
}

// The syncer syncs Badger's full logs after each append to the commit
// log while admin changes do after DB.Sync: under -race, the two must not
// share the sealed logs' state unguarded.
func TestSealedLogsSyncedConcurrently(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			now := time.Now()
			ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{}`)}
			if err := s.Commit(context.Background(), []webhook.Event{ev}, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			sub := &webhook.Subscription{ID: fmt.Sprintf("sub_%d", i%3), URL: "http://x", Events: []string{"none"}, IsActive: true, Signature: "standard"}
			if err := s.PutSubscription(context.Background(), sub); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}

// An event Badger held and has expired is found missing by the lookup,
// and not written again: the clock is read after the lookup, so it says
// the retention has passed too.
func TestReplayLeavesWhatBadgerExpired(t *testing.T) {
	s := openAt(t, Options{Dir: t.TempDir()})
	sec := time.Now().Unix()
	at := time.Unix(sec-3600, 1) // at + 1h ends in this second
	batch := logged(t, at, 1, time.Hour)
	// Badger held the event, expired at this second.
	if err := s.db.Update(func(txn *badger.Txn) error {
		e := badger.NewEntry(key(prefixEvent, batch[0].events[0].ID), batch[0].vals[0])
		e.ExpiresAt = uint64(sec) //nolint:gosec // G115: positive
		return txn.SetEntry(e)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.replayCommits([]logRecord{{seq: 1, payload: appendBatch(nil, at, batch)}}, time.Now); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, s, time.Time{})); n != 0 || s.QueueDepth() != 0 {
		t.Fatalf("%d expired events, %d deliveries written again", n, s.QueueDepth())
	}
}
