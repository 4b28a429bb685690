//go:build unix

package delivery

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The benchmarks of this file measure one delivery: building its signed
// request, sending it to a receiver on loopback, and the whole way through
// the dispatcher (claim, send, record) on a real Badger store. Run them
// with bench/gobench.sh; bench/README.md lists their figures.

// sendBenchSettings are the app's default delivery settings, with loopback
// targets allowed.
func sendBenchSettings() Settings {
	return Settings{Retry: []time.Duration{time.Minute}, Timeout: 10 * time.Second, AllowPrivateTargets: true, Workers: 16}
}

// benchDelivery is bench/rules.yaml's order.created event and a
// subscription to it signing with the standard scheme.
func benchDelivery(url string) (*webhook.Subscription, *webhook.Event) {
	now := time.Now()
	sub := &webhook.Subscription{ID: "sub_bench", URL: url, Events: []string{"*"}, IsActive: true,
		Signature: signer.Standard, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	ev := &webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Site: "site-1",
		Data: json.RawMessage(`{"orderId":"6745a1b20000000000000001","total":42.5,"site":"site-1"}`)}
	return sub, ev
}

// signedReceiver is a receiver on loopback that answers 200 and counts
// what it got, after checking the signature.
func signedReceiver(b *testing.B, secret string) (*httptest.Server, *atomic.Int64) {
	b.Helper()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := signer.Verify(signer.Standard, r.Header, body, secret, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got.Add(1)
	}))
	b.Cleanup(srv.Close)
	return srv, &got
}

// BenchmarkRequest builds one delivery's request: its body (the
// envelope), its headers and its signature.
func BenchmarkRequest(b *testing.B) {
	s := newSender(sendBenchSettings())
	sub, ev := benchDelivery("http://127.0.0.1:1/hook")
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		body, err := envelope(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.request(ctx, sub, ev, 1, body, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	benchcpu.Report(b, cpu)
}

// BenchmarkSend makes one delivery attempt to a receiver on loopback
// (the connection kept alive between attempts), which checks its
// signature.
func BenchmarkSend(b *testing.B) {
	sub, ev := benchDelivery("")
	srv, got := signedReceiver(b, sub.Secret)
	sub.URL = srv.URL + "/hook"
	s := newSender(sendBenchSettings())
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		if res := s.send(ctx, sub, ev, 1); res.outcome != Delivered {
			b.Fatalf("outcome %v: %s", res.outcome, res.attempt.Error)
		}
	}
	benchcpu.Report(b, cpu)
	if n := got.Load(); n != int64(b.N) {
		b.Fatalf("the receiver got %d deliveries, want %d", n, b.N)
	}
}

// BenchmarkDispatch is a delivery the whole way through the dispatcher,
// with the app's 16 workers: claimed from a Badger store (in the temp
// dir), sent to a receiver on loopback, and its success recorded. The
// deliveries are queued before the timing starts; it ends when all are
// recorded as succeeded. ns/op is the inverse of the drain rate.
func BenchmarkDispatch(b *testing.B) {
	sub, _ := benchDelivery("")
	srv, got := signedReceiver(b, sub.Secret)
	sub.URL = srv.URL + "/hook"
	store, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	store.Configure(storage.Settings{Retention: 7 * 24 * time.Hour, Durability: webhook.Sync})
	ctx := context.Background()
	if err := store.PutSubscription(ctx, sub); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; {
		evs := make([]webhook.Event, min(left, 512))
		for i := range evs {
			_, ev := benchDelivery("")
			evs[i] = *ev
		}
		if err := store.Commit(ctx, evs, nil); err != nil {
			b.Fatal(err)
		}
		left -= len(evs)
	}

	d := New(store)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchcpu.Now()
	d.Configure(sendBenchSettings(), zap.NewNop())
	deadline := time.Now().Add(time.Duration(b.N)*10*time.Millisecond + 30*time.Second)
	// First until the receiver has had them all (a cheap look), then
	// until the last successes are recorded (counting reads every
	// delivery, so it is left for the end).
	for got.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("the receiver got %d of %d deliveries", got.Load(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	for {
		c, err := store.Count(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if c.Deliveries[webhook.Succeeded] == int64(b.N) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries recorded as succeeded", c.Deliveries[webhook.Succeeded], b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	benchcpu.Report(b, cpu)
	d.Stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	if n := got.Load(); n != int64(b.N) {
		b.Fatalf("the receiver got %d deliveries, want %d", n, b.N)
	}
}
