//go:build unix

package badgerstore

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The benchmarks of this file measure the store's hot paths on a real
// Badger in b.TempDir(): a request's commit (sync and async, one
// subscription so that the fan-out writes a delivery), a delivery's claim
// and completion, and a snapshot read. Where TMPDIR is a tmpfs, fsync
// costs nothing and sync is no slower than async: bench/gobench.sh prints
// the filesystem. Run them with bench/gobench.sh; bench/README.md lists
// their figures.

// benchData is what bench/rules.yaml's order.created extracts from the
// benchmark upstream's order.
var benchData = json.RawMessage(`{"orderId":"6745a1b20000000000000001","total":42.5,"site":"site-1"}`)

// benchOrder is the benchmark upstream's ~330-byte order, stored as a
// resource's snapshot.
var benchOrder = []byte(`{"_id":"6745a1b20000000000000001","orderNumber":"CMD-2026-000001",` +
	`"status":"pending","total":42.5,"currency":"CHF","site":"site-1",` +
	`"customer":{"email":"jane.doe@example.com","name":"Jane Doe"},` +
	`"items":[{"sku":"SKU-001","quantity":2,"price":15},{"sku":"SKU-002","quantity":1,"price":12.5}],` +
	`"createdAt":"2026-11-23T10:00:00.000Z"}`)

// openBench opens a store in a temp dir with the app's default retention
// and the given durability, and one active subscription to every event.
func openBench(b *testing.B, d webhook.Durability) *Store {
	b.Helper()
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	s.Configure(benchSettings(d))
	sub := &webhook.Subscription{ID: "sub_bench", URL: "http://127.0.0.1:1/hook", Events: []string{"*"},
		IsActive: true, Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	if err := s.PutSubscription(context.Background(), sub); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchSettings(d webhook.Durability) storage.Settings {
	return storage.Settings{Retention: 7 * 24 * time.Hour, Durability: d,
		NotStored: func(_ []webhook.Event, err error) { panic(fmt.Sprintf("async commit failed: %v", err)) }}
}

// settle returns once the asynchronous commits made before it are
// written, so that a benchmark of them counts their writing too (an async
// Commit returns before it): it makes one more commit, synced, which is
// written after them. It returns how many events it committed. Its fsync
// is shared by all the ops: a few ns each at -benchtime 1s.
func settle(b *testing.B, s *Store, d webhook.Durability) int {
	b.Helper()
	if d != webhook.Async {
		return 0
	}
	s.Configure(benchSettings(webhook.Sync))
	defer s.Configure(benchSettings(d))
	if err := s.Commit(context.Background(), []webhook.Event{benchEvent()}, nil); err != nil {
		b.Fatal(err)
	}
	return 1
}

func benchEvent() webhook.Event {
	now := time.Now()
	return webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: benchData, Site: "site-1"}
}

// durabilities are the two settings a commit is measured with.
var durabilities = []struct {
	name string
	d    webhook.Durability
}{{"sync", webhook.Sync}, {"async", webhook.Async}}

// BenchmarkCommit commits one request's event (and its delivery) at a
// time, alone and with the resource's snapshot (a state-keeping rule).
// With async and no snapshot, Commit returns before the store has
// written: the timing ends once all are written (settle).
func BenchmarkCommit(b *testing.B) {
	for _, dur := range durabilities {
		for _, snap := range []bool{false, true} {
			name := dur.name
			if snap {
				name += "-snapshot"
			}
			b.Run(name, func(b *testing.B) {
				s := openBench(b, dur.d)
				var snaps []webhook.Snapshot
				if snap {
					snaps = []webhook.Snapshot{{Key: "order:6745a1b20000000000000001", Value: benchOrder}}
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := benchcpu.Now()
				for range b.N {
					if err := s.Commit(ctx, []webhook.Event{benchEvent()}, snaps); err != nil {
						b.Fatal(err)
					}
				}
				extra := settle(b, s, dur.d)
				b.StopTimer()
				benchcpu.Report(b, cpu)
				wantPending(b, s, b.N+extra)
			})
		}
	}
}

// BenchmarkCommitParallel is BenchmarkCommit from many requests at once,
// as a loaded proxy makes them: concurrent sync commits share fsyncs
// (group commit). 16 goroutines per GOMAXPROCS: 32 on 2 cores, wrk's
// connections in bench/run.sh.
func BenchmarkCommitParallel(b *testing.B) {
	for _, dur := range durabilities {
		b.Run(dur.name, func(b *testing.B) {
			s := openBench(b, dur.d)
			ctx := context.Background()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Commit(ctx, []webhook.Event{benchEvent()}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			extra := settle(b, s, dur.d)
			b.StopTimer()
			benchcpu.Report(b, cpu)
			wantPending(b, s, b.N+extra)
		})
	}
}

// wantPending fails the benchmark unless n deliveries are pending once
// the writes of async commits are done: each commit must have written its
// event's delivery.
func wantPending(b *testing.B, s *Store, n int) {
	b.Helper()
	wantDeliveries(b, s, webhook.Pending, n)
}

// wantDeliveries waits (async writes land late) until n deliveries have
// the status, and fails the benchmark if they never do.
func wantDeliveries(b *testing.B, s *Store, status string, n int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := s.Count(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if c.Deliveries[status] == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d deliveries %s, want %d", c.Deliveries[status], status, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkClaimComplete is the store's part of one delivery: its claim
// (alone, or in batches of 16 as several free workers take them) and the
// record of its successful attempt, as the dispatcher writes it. The
// deliveries are committed first, outside the timing.
func BenchmarkClaimComplete(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
	}{{"one", 1}, {"batch16", 16}} {
		batch := bc.batch
		b.Run(bc.name, func(b *testing.B) {
			s := openBench(b, webhook.Sync)
			fillQueue(b, s, b.N)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Now()
			var claims []webhook.Claim
			for range b.N {
				if len(claims) == 0 {
					var err error
					claims, _, err = s.Claim(ctx, time.Now(), time.Minute, batch, []webhook.Want{{SubID: "sub_bench", Max: batch}})
					if err != nil {
						b.Fatal(err)
					}
					if len(claims) == 0 {
						b.Fatal("nothing claimed while deliveries are due")
					}
				}
				c := claims[0]
				claims = claims[1:]
				if _, err := s.UpdateDelivery(ctx, c.Delivery.ID, succeed); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			benchcpu.Report(b, cpu)
			wantDeliveries(b, s, webhook.Succeeded, b.N)
		})
	}
}

// BenchmarkRecordParallel is the record of a delivery's attempt as the
// dispatcher's workers write them: many at once (32 goroutines, as busy
// workers finishing together), each for a delivery claimed beforehand,
// outside the timing.
func BenchmarkRecordParallel(b *testing.B) {
	s := openBench(b, webhook.Sync)
	fillQueue(b, s, b.N)
	ctx := context.Background()
	ids := make(chan string, b.N)
	for len(ids) < b.N {
		claims, _, err := s.Claim(ctx, time.Now(), time.Hour, 512, []webhook.Want{{SubID: "sub_bench", Max: 512}})
		if err != nil || len(claims) == 0 {
			b.Fatalf("claimed %d with %d left to claim: %v", len(claims), b.N-len(ids), err)
		}
		for _, c := range claims {
			ids <- c.Delivery.ID
		}
	}
	close(ids)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	cpu := benchcpu.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.UpdateDelivery(ctx, <-ids, succeed); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	benchcpu.Report(b, cpu)
	wantDeliveries(b, s, webhook.Succeeded, b.N)
}

// succeed records a successful attempt, as the dispatcher does.
func succeed(d *webhook.Delivery) error {
	now := time.Now().UTC()
	d.Attempts = append(d.Attempts, webhook.Attempt{N: len(d.Attempts) + 1, At: now, StatusCode: 200, DurationMs: 1})
	d.UpdatedAt = now
	d.Status, d.NextAttemptAt = webhook.Succeeded, nil
	return nil
}

// fillQueue commits n events, so n deliveries are due.
func fillQueue(b *testing.B, s *Store, n int) {
	b.Helper()
	const batch = 512
	evs := make([]webhook.Event, 0, batch)
	for left := n; left > 0; left -= len(evs) {
		evs = evs[:0]
		for range min(left, batch) {
			evs = append(evs, benchEvent())
		}
		if err := s.Commit(context.Background(), evs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshot reads a resource's state, as a request on a
// state-keeping rule does before it goes upstream: one that is there,
// and one that is not.
func BenchmarkSnapshot(b *testing.B) {
	s := openBench(b, webhook.Sync)
	const key = "order:6745a1b20000000000000001"
	if err := s.Commit(context.Background(), nil, []webhook.Snapshot{{Key: key, Value: benchOrder}}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, key string
		want      []byte
	}{{"hit", key, benchOrder}, {"miss", "order:none", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			got, err := s.Snapshot(ctx, bc.key)
			if err != nil || string(got) != string(bc.want) {
				b.Fatalf("Snapshot(%s) = %q, %v; want %q", bc.key, got, err, bc.want)
			}
			b.ReportAllocs()
			cpu := benchcpu.Now()
			for b.Loop() {
				if _, err := s.Snapshot(ctx, bc.key); err != nil {
					b.Fatal(err)
				}
			}
			benchcpu.Report(b, cpu)
		})
	}
}
