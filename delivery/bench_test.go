package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// benchReceiver answers 200 at once and notes when each event arrived,
// against its timestamp.
type benchReceiver struct {
	n   atomic.Int64
	mu  sync.Mutex
	lat []time.Duration
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &env)
	lat := time.Since(env.Timestamp)
	r.mu.Lock()
	r.lat = append(r.lat, lat)
	r.mu.Unlock()
	r.n.Add(1)
	w.WriteHeader(http.StatusOK)
}

// percentile returns the p-th percentile of the latencies noted.
func (r *benchReceiver) percentile(p float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// benchSetup opens a store in a temp dir with one subscription to a
// benchReceiver, durability sync.
func benchSetup(b *testing.B) (*badgerstore.Store, *benchReceiver) {
	b.Helper()
	store, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	store.Configure(storage.Settings{Durability: webhook.Sync})
	rcv := &benchReceiver{}
	srv := httptest.NewServer(rcv)
	b.Cleanup(srv.Close)
	sub := &webhook.Subscription{
		ID: "sub_bench", URL: srv.URL + "/hook", Events: []string{"*"}, IsActive: true,
		Signature: "standard", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}
	if err := store.PutSubscription(context.Background(), sub); err != nil {
		b.Fatal(err)
	}
	return store, rcv
}

func benchSettings() Settings {
	return Settings{
		Retry: []time.Duration{time.Minute}, Timeout: 10 * time.Second, RateLimit: "100000/s",
		AllowPrivateTargets: true, Workers: 64,
	}
}

// benchEvents returns n events like the benchmark's order.created.
func benchEvents(n int) []webhook.Event {
	now := time.Now().UTC()
	out := make([]webhook.Event, n)
	for i := range out {
		out[i] = webhook.Event{
			ID: webhook.NewID("evt_", now), Name: "order.created", Time: now,
			Data: json.RawMessage(`{"orderId":"ord000123","total":42.5,"site":"site-1"}`),
		}
	}
	return out
}

// waitDelivered waits until the receiver has n deliveries.
func waitDelivered(b *testing.B, rcv *benchReceiver, n int64, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for rcv.n.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered after %s", rcv.n.Load(), n, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkDrain: b.N deliveries queued for one subscription, then drained
// by a dispatcher with the bench's settings (64 workers) to a receiver in
// the same process. cpu-µs/delivery is the whole process's CPU time
// (dispatcher, store and receiver) per delivery.
func BenchmarkDrain(b *testing.B) {
	store, rcv := benchSetup(b)
	for left := b.N; left > 0; left -= 500 {
		if err := store.Commit(context.Background(), benchEvents(min(left, 500)), nil); err != nil {
			b.Fatal(err)
		}
	}
	d := New(store)
	b.ResetTimer()
	start, cpu0 := time.Now(), benchcpu.Now()
	d.Configure(benchSettings(), zap.NewNop())
	waitDelivered(b, rcv, int64(b.N), time.Minute+time.Duration(b.N)*time.Millisecond)
	elapsed, cpu := time.Since(start), benchcpu.Now()-cpu0
	b.StopTimer()
	d.Stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/delivery")
}

// BenchmarkDeliverWhileCommitting: 32 committers store b.N events (one per
// synced commit, as requests do) while the dispatcher delivers them; the
// figures are the rates of both and the inference-to-receipt latency.
func BenchmarkDeliverWhileCommitting(b *testing.B) {
	store, rcv := benchSetup(b)
	d := New(store)
	d.Configure(benchSettings(), zap.NewNop())
	defer d.Stop()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := store.Commit(context.Background(), benchEvents(1), nil); err != nil {
					panic(fmt.Sprint("commit: ", err))
				}
			}
		})
	}
	wg.Wait()
	inferred := time.Since(start)
	delivered := rcv.n.Load()
	waitDelivered(b, rcv, int64(b.N), time.Minute+time.Duration(b.N)*time.Millisecond)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/inferred.Seconds(), "inferred/s")
	b.ReportMetric(float64(delivered)/float64(b.N), "delivered-ratio")
	b.ReportMetric(float64(rcv.percentile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(rcv.percentile(0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkDeliverPaced: b.N events committed at 1,000 a second (one per
// synced commit), a pace the dispatcher keeps up with: the regime of a
// queue that stays short. cpu-µs/event is the process's CPU time (commits,
// dispatcher, store and receiver) per event.
func BenchmarkDeliverPaced(b *testing.B) {
	const rate = 1000
	store, rcv := benchSetup(b)
	d := New(store)
	d.Configure(benchSettings(), zap.NewNop())
	defer d.Stop()
	b.ResetTimer()
	start, cpu0 := time.Now(), benchcpu.Now()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range b.N {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := store.Commit(context.Background(), benchEvents(1), nil); err != nil {
				panic(fmt.Sprint("commit: ", err))
			}
		})
	}
	wg.Wait()
	waitDelivered(b, rcv, int64(b.N), time.Minute)
	cpu := benchcpu.Now() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
	b.ReportMetric(float64(rcv.percentile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(rcv.percentile(0.99).Microseconds())/1000, "p99-ms")
}
