package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.Configure(storage.Settings{Retention: time.Hour})
	return s
}

func collect(t *testing.T, s *Store, since time.Time) []webhook.Event {
	t.Helper()
	var got []webhook.Event
	if err := s.EventsSince(context.Background(), since, func(e webhook.Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendAndReadBack(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)
	evs := []webhook.Event{
		{ID: webhook.NewID("evt_", t0), Name: "order.created", Time: t0, Data: json.RawMessage(`{"orderId":"a1","total":12.5}`), Site: "s1"},
		{ID: webhook.NewID("evt_", t0.Add(time.Second)), Name: "customer.created", Time: t0.Add(time.Second), Data: json.RawMessage(`{"email":"x@y"}`), UserID: json.RawMessage(`"u7"`)},
	}
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, t0.Add(-time.Minute))
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	for i := range evs {
		if got[i].ID != evs[i].ID || got[i].Name != evs[i].Name || !got[i].Time.Equal(evs[i].Time) ||
			string(got[i].Data) != string(evs[i].Data) || string(got[i].UserID) != string(evs[i].UserID) || got[i].Site != evs[i].Site {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], evs[i])
		}
	}
	// Since is inclusive and filters by time.
	if got := collect(t, s, t0.Add(500*time.Millisecond)); len(got) != 1 || got[0].Name != "customer.created" {
		t.Errorf("since t0+0.5s: got %+v", got)
	}
}

func TestEventJSONTimestamp(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	b, err := json.Marshal(webhook.Event{ID: "evt_1", Name: "a.b", Time: t0, Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timestamp":"2026-11-23T09:00:00.123Z"`) {
		t.Errorf("timestamp not UTC with millis: %s", b)
	}
}

func TestAsyncAppendEventuallyVisible(t *testing.T) {
	s := openTest(t)
	now := time.Now()
	errc := make(chan error, 1)
	s.Configure(storage.Settings{Durability: webhook.Async, NotStored: func(_ []webhook.Event, err error) { errc <- err }})
	if err := s.Commit(context.Background(), []webhook.Event{{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now, Data: json.RawMessage(`1`)}}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(collect(t, s, now.Add(-time.Second))) == 0 {
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("async event never became visible")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Commit(context.Background(), []webhook.Event{{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now, Data: json.RawMessage(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := collect(t, s, time.Time{}); len(got) != 1 {
		t.Fatalf("after reopen: %d events", len(got))
	}
}

func TestOpenLockedDirFails(t *testing.T) {
	s := openTest(t)
	if _, err := Open(Options{Dir: s.dir}); err == nil {
		t.Fatal("second Open of the same directory succeeded; Badger should refuse")
	}
}

func TestScanStops(t *testing.T) {
	s := openTest(t)
	now := time.Now()
	var evs []webhook.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, webhook.Event{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now, Data: json.RawMessage(`{}`)})
	}
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.EventsSince(context.Background(), time.Time{}, func(webhook.Event) error {
		n++
		if n == 2 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	if err := s.EventsSince(context.Background(), time.Time{}, func(webhook.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err=%v, want boom", err)
	}
}

func TestIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 100; i++ {
		ids = append(ids, webhook.NewID("evt_", base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made later do not sort later")
	}
	for _, id := range ids {
		if len(id) != 4+26 {
			t.Fatalf("id %q has length %d", id, len(id))
		}
	}
	if at := webhook.IDAt("evt_", base.Add(50*time.Millisecond)); ids[49] >= at || at > ids[50] {
		t.Fatalf("IDAt(%v)=%s not between %s and %s", base, at, ids[49], ids[50])
	}
}

func TestUseAfterClose(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Commit(context.Background(), []webhook.Event{{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now}}, nil); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := s.EventsSince(context.Background(), now, func(webhook.Event) error { return nil }); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("EventsSince after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDueKeyOrder(t *testing.T) {
	now := time.Now()
	if string(dueKey("sub_a", time.Time{}, "")) >= string(dueKey("sub_a", now, "a")) {
		t.Error("the zero time does not sort first")
	}
	if string(dueKey("sub_a", now, "zzz")) >= string(dueKey("sub_a", now.Add(time.Nanosecond), "a")) {
		t.Error("a subscription's due keys do not sort by time first")
	}
	if string(dueKey("sub_a", now.Add(time.Hour), "zzz")) >= string(dueKey("sub_b", now, "a")) {
		t.Error("due keys of two subscriptions interleave")
	}
	at, id := dueIn(dueKey("sub_a", time.Time{}, "")[:len("q/sub_a/")], dueKey("sub_a", now, "dlv_1"))
	if !at.Equal(time.Unix(0, now.UnixNano())) || id != "dlv_1" {
		t.Errorf("dueIn = %v, %q", at, id)
	}
}

// TestEventsSinceCallsOutsideLock: fn may call the store (a replay queues
// deliveries as it reads), and Close does not wait for it: it would wait
// forever for a fn that calls the store while Close waits.
func TestEventsSinceCallsOutsideLock(t *testing.T) {
	s := openTest(t)
	now := time.Now()
	evs := make([]webhook.Event, 2*eventsPage+1)
	for i := range evs {
		evs[i] = webhook.Event{ID: webhook.NewID("evt_", now), Name: "a.b", Time: now, Data: json.RawMessage(`{}`)}
	}
	if err := s.Commit(context.Background(), evs, nil); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := s.EventsSince(context.Background(), time.Time{}, func(webhook.Event) error {
		if calls++; calls > 1 {
			return nil
		}
		if _, err := s.Subscriptions(context.Background()); err != nil {
			return err
		}
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Close waited for fn")
		}
	})
	if !errors.Is(err, webhook.ErrClosed) || calls != eventsPage {
		t.Fatalf("EventsSince = %v after %d calls; want ErrClosed after the first page's %d", err, calls, eventsPage)
	}
}
