package delivery

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestSenderReusesConnections: as many deliveries at once to one
// subscriber as there are workers (32, more than the transport's former
// 16 idle connections per host), twice: the second wave goes over the
// connections of the first, with no new one dialled.
func TestSenderReusesConnections(t *testing.T) {
	t.Parallel()
	const workers = 32
	var dialled atomic.Int64
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived.Done()
		arrived.Wait() // all of a wave at once, each on its own connection
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := rigSettings()
	s.Workers = workers
	snd := newSender(s)
	sub := &webhook.Subscription{ID: "sub_conns", URL: srv.URL, Signature: "sha256", Secret: "a-secret-of-some-length"}
	ev := &webhook.Event{ID: "evt_1", Name: "order.created", Time: time.Now(), Data: json.RawMessage(`{}`)}

	wave := func() {
		arrived.Add(workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if res := snd.send(context.Background(), sub, ev, 1); res.outcome != Delivered {
					t.Errorf("attempt: %+v", res.attempt)
				}
			})
		}
		wg.Wait()
	}
	wave()
	first := dialled.Load()
	if first != workers {
		t.Fatalf("the first wave dialled %d connections, want %d", first, workers)
	}
	wave()
	if again := dialled.Load() - first; again != 0 {
		t.Errorf("the second wave dialled %d new connections, want 0 (the first wave's kept idle)", again)
	}
}
