package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

const orderedRules = `events:
  - name: order.status_changed
    match: { method: PATCH, path: "/orders/{id}" }
    state:
      key: "order:{path.id}"
      prefetch: "GET /orders/{path.id}"
    when: previous.status != response.body.status
    data: { orderId: path.id, oldStatus: previous.status, newStatus: response.body.status }
`

// statusApp is an app whose orders o0…o19 have a status that PATCH sets.
func statusApp(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	status := map[string]string{}
	answer := func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"status":%q}`, id, status[id])
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		answer(w, r.PathValue("id"))
	})
	mux.HandleFunc("PATCH /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Status string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		status[r.PathValue("id")] = in.Status
		answer(w, r.PathValue("id"))
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return up
}

// orderedReceiver records every attempt per order and answers 503 to the
// troubled order: always to its first event's attempts until release is
// closed, and at random (seeded) to its other events' first attempts.
type orderedReceiver struct {
	mu       sync.Mutex
	attempts map[string][]string // order → "<newStatus> <code> #<attempt>" per attempt, in arrival order
	ok       map[string][]string // order → newStatus of each delivery answered 200
	troubled string
	release  chan struct{}
	rnd      *rand.Rand
}

func (rc *orderedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var env struct {
		Data struct{ OrderID, NewStatus string }
	}
	_ = json.Unmarshal(body, &env)
	order, st := env.Data.OrderID, env.Data.NewStatus
	rc.mu.Lock()
	defer rc.mu.Unlock()
	code := http.StatusOK
	if order == rc.troubled {
		select {
		case <-rc.release:
			if r.Header.Get("X-Webhook-Attempt") == "1" && st != "s1" && rc.rnd.IntN(2) == 0 {
				code = http.StatusServiceUnavailable
			}
		default:
			if st == "s1" {
				code = http.StatusServiceUnavailable
			}
		}
	}
	// The attempt's number too: a second "200" of one event with #1 is a
	// second claim, with #2 a retry of a response the dispatcher lost.
	rc.attempts[order] = append(rc.attempts[order], st+" "+strconv.Itoa(code)+" #"+r.Header.Get("X-Webhook-Attempt"))
	if code == http.StatusOK {
		rc.ok[order] = append(rc.ok[order], st)
	}
	w.WriteHeader(code)
}

func (rc *orderedReceiver) received(order string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ok[order])
}

// TestOrderedDelivery: 200 status changes over 20 orders, inferred by a
// real Caddy, delivered to an ordered subscription whose receiver answers
// 503 to one order's first event until every other order has received all
// of its events (so the others are not held behind it: no head-of-line
// blocking across keys), then at random to that order's first attempts.
// Every order's events arrive in the order they were inferred, and no
// attempt of an order's event comes before the previous one was answered
// 200: a later one waits while an earlier one is retried.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"badger", "nats"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testOrderedDelivery(t, backend)
		})
	}
}

func testOrderedDelivery(t *testing.T, backend string) {
	const orders, changes = 20, 10
	rc := &orderedReceiver{attempts: map[string][]string{}, ok: map[string][]string{}, troubled: "o7",
		release: make(chan struct{}), rnd: rand.New(rand.NewPCG(1, 2))}
	recv := httptest.NewServer(rc)
	t.Cleanup(recv.Close)
	up := statusApp(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(orderedRules), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := "{DIR}/webhooks"
	if backend == "nats" {
		storage = fmt.Sprintf("nats {\n\t\t\turl %s\n\t\t\treplicas 1\n\t\t}", testbed.StartNATS(t, testbed.NATSOptions{}).URL())
	}
	// The troubled order's first event is retried every 250 ms for 15 s.
	retry := strings.TrimSpace(strings.Repeat("250ms ", 60))
	port := testbed.FreePort(t)
	caddy := testbed.StartCaddy(t, dir, testbed.GlobalStorage(storage, fmt.Sprintf(`allow_private_targets
		retry %s
		rate_limit 10000/s
		disable_after 1000
		subscription partner {
			url %s
			events order.status_changed
			secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
			ordered
		}`, retry, recv.URL))+testbed.Site(port, rulePath, up.Listener.Addr()))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	t.Cleanup(func() { // registered after StartCaddy's: runs before Caddy stops
		if t.Failed() {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			t.Logf("attempts per order: %v\nCaddy's output and log:\n%s", rc.attempts, caddy.Output()+caddy.Logs())
		}
	})

	// A subscription gets the events inferred once it is stored: a
	// cluster that did not answer at start gets it a moment later.
	testbed.Eventually(t, 30*time.Second, "the config subscription stored", func() bool {
		resp, err := http.Get("http://" + caddy.AdminAddr + "/webhooks/subscriptions/sub_partner")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	var wg sync.WaitGroup
	for w := range 4 { // 4 clients, each changing its orders one change at a time
		wg.Go(func() {
			for i := 1; i <= changes; i++ {
				for o := w; o < orders; o += 4 {
					send(t, http.MethodPatch, fmt.Sprintf("%s/orders/o%d", base, o), fmt.Sprintf(`{"status":"s%d"}`, i), 200)
				}
			}
		})
	}
	wg.Wait()
	want := make([]string, changes)
	for i := range want {
		want[i] = fmt.Sprintf("s%d", i+1)
	}
	for o := range orders {
		order := fmt.Sprintf("o%d", o)
		if order == rc.troubled {
			continue
		}
		testbed.Eventually(t, 30*time.Second, order+"'s events while "+rc.troubled+" is refused", func() bool {
			return len(rc.received(order)) >= changes
		})
	}
	if got := rc.received(rc.troubled); len(got) != 0 {
		t.Fatalf("%s received %v before its first event was accepted", rc.troubled, got)
	}
	close(rc.release)
	testbed.Eventually(t, 30*time.Second, rc.troubled+"'s events", func() bool {
		return len(rc.received(rc.troubled)) >= changes
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for o := range orders {
		order := fmt.Sprintf("o%d", o)
		if got := rc.ok[order]; !slices.Equal(got, want) {
			t.Errorf("%s received %v, want %v", order, got, want)
		}
		if err := inOrder(rc.attempts[order]); err != "" {
			t.Errorf("%s: %s (attempts %v)", order, err, rc.attempts[order])
		}
	}
	t.Logf("%s's attempts: %v", rc.troubled, rc.attempts[rc.troubled])
}

// inOrder says how attempts break the order, or "": each attempt is of
// the event after the last one answered 200, or a retry of it.
func inOrder(attempts []string) string {
	accepted := 0
	for _, a := range attempts {
		f := strings.Fields(a)
		st, code := f[0], f[1]
		n, _ := strconv.Atoi(strings.TrimPrefix(st, "s"))
		if n != accepted+1 {
			return fmt.Sprintf("an attempt of s%d after s%d was accepted", n, accepted)
		}
		if code == "200" {
			accepted = n
		}
	}
	return ""
}
