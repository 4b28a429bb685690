package delivery

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestReloadKeepsDelivering reloads the config while orders flow and
// deliveries are under way: every order is delivered, and one set of
// delivery workers serves the store throughout.
func TestReloadKeepsDelivering(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s")
	s.subscribe("/r", map[string]any{"events": []string{"order.created"}, "rate_limit": "1000/s"})
	// Slow answers keep attempts in flight across the reloads.
	s.rcv.on("/r", reply{status: 200, delay: 50 * time.Millisecond})
	var (
		mu     sync.Mutex
		orders []string
		wg     sync.WaitGroup
	)
	// The orders not yet delivered: enough to keep attempts in flight, few
	// enough that the last of them are delivered in a moment.
	const backlog = 20
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				ahead := len(orders) - len(s.rcv.at("/r"))
				mu.Unlock()
				if ahead > backlog {
					time.Sleep(time.Millisecond) // polling the receiver until the deliveries catch up
					continue
				}
				id := s.orderOrEmpty()
				if id != "" {
					mu.Lock()
					orders = append(orders, id)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		s.rcv.wait(t, "/r", len(s.rcv.at("/r"))+30, 30*time.Second) // deliveries between reloads
		cfg := strings.Replace(s.cfg, "retry 1s", fmt.Sprintf("retry %ds", i+2), 1)
		if code, body := s.caddy.Load(cfg); code != 200 {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	want := append([]string(nil), orders...)
	mu.Unlock()
	testbed.Eventually(t, 60*time.Second, fmt.Sprintf("all %d orders delivered", len(want)), func() bool {
		got := map[string]bool{}
		for _, r := range s.rcv.at("/r") {
			var e struct {
				Data struct {
					OrderID string `json:"orderId"`
				} `json:"data"`
			}
			_ = json.Unmarshal(r.body, &e)
			got[e.Data.OrderID] = true
		}
		for _, id := range want {
			if !got[id] {
				return false
			}
		}
		return true
	})
	// The delivery metrics are in the registry of the config now serving,
	// and count what was delivered before the reloads too.
	var metrics []byte
	delivered := 0
	testbed.Eventually(t, 10*time.Second, "deliveries_total{delivered} counts every delivery", func() bool {
		resp, err := http.Get(s.admin + "/metrics")
		if err != nil {
			return false
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`caddy_webhooks_deliveries_total\{result="delivered"\} (\d+)`).FindSubmatch(metrics)
		if m != nil {
			delivered, _ = strconv.Atoi(string(m[1]))
		}
		// The receiver counts a delivery when it arrives, the metric once
		// its answer is back: poll until they agree.
		return delivered >= len(want)
	})
	for _, name := range []string{"caddy_webhooks_delivery_duration_seconds_count", "caddy_webhooks_queue_depth", "caddy_webhooks_events_total"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	if n := strings.Count(s.caddy.Logs(), `"msg":"delivery workers started"`); n != 1 {
		t.Errorf("delivery workers started %d times across 3 reloads, want 1", n)
	}
	t.Logf("%d orders, all delivered across 3 reloads", len(want))
}
