package delivery

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestCrashLosesNothing: with durability sync, Caddy killed (SIGKILL) in
// the middle of a load of order creates, then restarted on the same data,
// delivers every order whose 201 reached its client (the promise of
// durability sync, docs/configuration.md); a delivery cut short by the
// crash may come twice, with the same event id.
func TestCrashLosesNothing(t *testing.T) {
	t.Parallel()
	const (
		clients   = 8
		perClient = 60  // several hundred creates planned…
		killAfter = 150 // …of which about this many complete before the crash
	)
	// The default rate (100/m) would spread the deliveries over minutes:
	// 1000/s lets them follow the creates, so that some are in flight when
	// Caddy dies.
	s := startStack(t, "durability sync\n\t\tretry 1s 1s\n\t\ttimeout 2s\n\t\trate_limit 1000/s")
	subID, _ := s.subscribe("/crash", map[string]any{"events": []string{"order.created"}})
	// The receiver takes 50ms to answer, so that some attempts are in
	// flight when Caddy dies: they come again after their claim lease.
	s.rcv.on("/crash", reply{status: 200, delay: 50 * time.Millisecond})

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients},
	}
	defer client.CloseIdleConnections()
	var (
		mu      sync.Mutex
		created []string // order ids whose 201 reached the client
		ok201   atomic.Int64
		failed  atomic.Int64 // requests cut or refused by the crash
		bad     atomic.Int64 // answers other than 201
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perClient {
				select {
				case <-stop:
					return
				default:
				}
				id, err := createOrder(client, s.shop)
				if _, ok := err.(*statusError); ok {
					bad.Add(1)
					t.Logf("create answered %v", err)
				}
				if err != nil {
					failed.Add(1)
					select {
					case <-stop:
						return // Caddy is gone
					default:
						continue
					}
				}
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
				ok201.Add(1)
			}
		}()
	}
	testbed.Eventually(t, 60*time.Second, "150 orders created before the crash", func() bool { return ok201.Load() >= killAfter })
	inFlight := s.rcv.at("/crash")
	s.caddy.Kill()
	close(stop)
	wg.Wait()
	t.Logf("killed Caddy %s into the load: %d creates got 201, %d requests failed (cut or refused), %d deliveries received before the kill",
		time.Since(start).Round(time.Millisecond), ok201.Load(), failed.Load(), len(inFlight))
	if failed.Load() == 0 {
		t.Log("no request was cut by the crash (none was in flight at the kill)")
	}
	if bad.Load() > 0 {
		t.Errorf("%d creates got an answer other than 201", bad.Load())
	}

	// Restart on the same directory and config: the same site URL, the
	// same store, a new admin port.
	s.caddy = testbed.StartCaddy(t, s.caddy.Dir, s.cfg)
	s.admin = "http://" + s.caddy.AdminAddr
	restarted := time.Now()

	mu.Lock()
	want := append([]string(nil), created...)
	mu.Unlock()
	// byOrder maps an order id to the envelope ids of its deliveries.
	byOrder := func() map[string][]string {
		out := map[string][]string{}
		for _, g := range s.rcv.at("/crash") {
			id, event, _, data := readEnvelope(t, g.body)
			if event != "order.created" {
				t.Errorf("unexpected %s delivery: %s", event, g.body)
				continue
			}
			orderID, _ := data["orderId"].(string)
			out[orderID] = append(out[orderID], id)
		}
		return out
	}
	missing := func(got map[string][]string) []string {
		var out []string
		for _, id := range want {
			if len(got[id]) == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	deadline := time.Now().Add(90 * time.Second)
	var got map[string][]string
	for {
		got = byOrder()
		if len(missing(got)) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("all deliveries received %s after the restart", time.Since(restarted).Round(time.Millisecond))
	// A delivery left mid-attempt by the crash stays pending until its claim
	// lease (timeout + 10s) runs out, then comes again: once the queue is
	// empty, every duplicate has arrived and is counted.
	var stats struct {
		QueueDepth int64 `json:"queue_depth"`
	}
	testbed.Eventually(t, 60*time.Second, "an empty queue", func() bool {
		call(t, "GET", s.admin+"/webhooks/stats", nil, 200, &stats)
		return stats.QueueDepth == 0
	})
	got = byOrder()

	lost := missing(got)
	delivered := len(want) - len(lost)
	duplicates, extra := 0, 0
	wanted := map[string]bool{}
	for _, id := range want {
		wanted[id] = true
	}
	for orderID, evIDs := range got {
		if !wanted[orderID] {
			extra++ // created by the shop, but the 201 never reached the client
		}
		if len(evIDs) > 1 {
			duplicates += len(evIDs) - 1
			for _, e := range evIDs[1:] {
				if e != evIDs[0] {
					t.Errorf("order %s delivered with different event ids %v", orderID, evIDs)
					break
				}
			}
		}
	}
	t.Logf("crash test: %d creates got 201, %d delivered, %d lost, %d duplicates (same event id)", len(want), delivered, len(lost), duplicates)
	if extra > 0 {
		t.Logf("also delivered: %d orders whose 201 did not reach the client before the crash", extra)
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("%d of %d orders that got 201 were never delivered: %v", len(lost), len(want), lost)
	}
	if len(want) < killAfter {
		t.Errorf("only %d creates got 201", len(want))
	}
	// Nothing failed.
	if f := s.deliveries(subID, "failed"); len(f) > 0 {
		t.Errorf("%d deliveries failed: %+v", len(f), f)
	}
}

// createOrder posts an order through Caddy and returns its id when the
// answer is 201; it does not touch the test (it runs in the load's
// goroutines).
func createOrder(client *http.Client, shop string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"customer": map[string]any{"email": "crash@example.ch", "name": "Crash"},
		"items":    []map[string]any{{"sku": "MUG", "name": "Mug", "quantity": 1, "price": 10}},
		"site":     "site-1",
	})
	resp, err := client.Post(shop+"/api/orders", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", &statusError{resp.StatusCode, string(b)}
	}
	var o struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.ID == "" {
		return "", &statusError{resp.StatusCode, "no _id in " + string(b)}
	}
	return o.ID, nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return http.StatusText(e.code) + ": " + e.body }
