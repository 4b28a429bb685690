package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// stateRules are the status-change pattern of the rule format (docs/rules.md, state).
const stateRules = `events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    state: { key: "order:{response.body._id}", snapshot: response.body }
    data: { orderId: response.body._id }
  - name: order.status_changed
    match: { method: [PUT, PATCH], path: "/api/orders/{id}/status", status: 2xx }
    state:
      key: "order:{path.id}"
      snapshot: response.body
      prefetch: GET /api/orders/{path.id}
    when: previous.status != response.body.status
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
  - name: order.shipped
    match: { method: [PUT, PATCH], path: "/api/orders/{id}/status", status: 2xx }
    state: { key: "order:{path.id}" }
    when: response.body.status == "shipped" && previous.status != "shipped"
    data: { orderId: path.id }
  - match: { method: GET, path: "/api/orders/{id}" }
    state: { key: "order:{path.id}" }
  - name: order.paid
    match: { method: POST, path: /hooks/pay, status: 200 }
    state:
      key: "order:{request.body.data.order}"
      prefetch: GET /api/orders/{request.body.data.order}
      snapshot: none   # the callback's answer is not the order: forget it
    when: previous.status != "paid"
    data: { orderId: request.body.data.order, oldStatus: previous.status, total: previous.total }
`

// orderApp is a legacy app whose status route answers with the new order
// only; reads need the client's Authorization header.
type orderApp struct {
	mu      sync.Mutex
	status  map[string]string
	n       int
	gets    map[string]int // GETs per order id
	failGET map[string]bool
}

func newOrderApp(t *testing.T, seed map[string]string) (*orderApp, *httptest.Server) {
	a := &orderApp{status: map[string]string{}, gets: map[string]int{}, failGET: map[string]bool{}}
	for id, st := range seed {
		a.status[id] = st
	}
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, code int, id, st string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"_id":%q,"status":%q,"total":10}`, id, st)
	}
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.n++
		id := fmt.Sprintf("new%d", a.n)
		a.status[id] = "pending"
		a.mu.Unlock()
		write(w, http.StatusCreated, id, "pending")
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" && r.Header.Get("X-User-Id") != "7" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		id := r.PathValue("id")
		a.mu.Lock()
		a.gets[id]++
		st, ok := a.status[id]
		fail := a.failGET[id]
		a.mu.Unlock()
		if id == "slow" {
			// Headers and half a body, then nothing until the client
			// gives up: reverse_proxy aborts such a response by panicking.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"_id":"slow",`)
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
			return
		}
		switch {
		case fail:
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
		case !ok:
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
		default:
			write(w, http.StatusOK, id, st)
		}
	})
	mux.HandleFunc("PUT /api/orders/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Status == "" || in.Status == "bogus" {
			http.Error(w, `{"error":"invalid status"}`, http.StatusUnprocessableEntity)
			return
		}
		id := r.PathValue("id")
		a.mu.Lock()
		_, ok := a.status[id]
		if ok {
			a.status[id] = in.Status
		}
		a.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
			return
		}
		write(w, http.StatusOK, id, in.Status)
	})
	mux.HandleFunc("POST /hooks/pay", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Data struct{ Order string }
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Data.Order == "" {
			http.Error(w, `{"error":"bad callback"}`, http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		_, ok := a.status[in.Data.Order]
		a.status[in.Data.Order] = "paid"
		a.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
			return
		}
		write(w, http.StatusOK, in.Data.Order, "paid")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *orderApp) getCount(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gets[id]
}

func startStateStack(t *testing.T) (*orderApp, *testbed.Caddy, string, string) {
	t.Helper()
	app, up := newOrderApp(t, map[string]string{"o1": "pending", "o2": "paid", "o3": "pending", "o4": "pending", "busy": "s0", "slow": "pending", "trickle": "pending"})
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(stateRules), 0o600); err != nil {
		t.Fatal(err)
	}
	mp, pp := testbed.FreePort(t), testbed.FreePort(t)
	c := testbed.StartCaddy(t, dir, caddyfileFor(mp, pp, up.Listener.Addr().String(), rulePath, ""))
	return app, c, fmt.Sprintf("http://127.0.0.1:%d", mp), filepath.Join(dir, "webhooks")
}

func setStatus(t *testing.T, base, id, status string) int {
	t.Helper()
	return sendStatus(t, http.MethodPut, base+"/api/orders/"+id+"/status", status)
}

// sendStatus sends {"status": status} as the order app's clients do, with
// their credentials, and returns the answer's status code.
func sendStatus(t *testing.T, method, url, status string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(`{"status":"`+status+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type change struct{ Order, Old, New string }

func changes(t *testing.T, evs []webhook.Event, name string) []change {
	t.Helper()
	var out []change
	for _, e := range byName(evs, name) {
		var d struct {
			OrderID   string  `json:"orderId"`
			OldStatus *string `json:"oldStatus"`
			NewStatus string  `json:"newStatus"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		old := "<null>"
		if d.OldStatus != nil {
			old = *d.OldStatus
		}
		out = append(out, change{d.OrderID, old, d.NewStatus})
	}
	return out
}

// TestStatusChanges: old and new values from prefetch (a resource the
// proxy never saw), from a snapshot left by an earlier response (a create,
// a read), a chain of changes, and no event for a no-op, a failed request
// or a read.
func TestStatusChanges(t *testing.T) {
	app, c, base, storage := startStateStack(t)

	// o1: never seen, so the old state is fetched upstream, once.
	for _, st := range []string{"paid", "shipped", "shipped", "bogus", "delivered"} {
		setStatus(t, base, "o1", st)
	}
	if n := app.getCount("o1"); n != 1 {
		t.Errorf("o1 was fetched %d times, want 1 (the prefetch; then the snapshots)", n)
	}
	if code := setStatus(t, base, "nope", "paid"); code != http.StatusNotFound {
		t.Errorf("unknown order: %d", code)
	}

	// A created order: its state comes from the create's response.
	resp, body := post(t, base+"/api/orders", `{}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	setStatus(t, base, "new1", "paid")
	if n := app.getCount("new1"); n != 0 {
		t.Errorf("new1 was fetched %d times, want 0: the create left its state", n)
	}

	// o2: changed behind the proxy's back, then read through it: the read
	// refreshes the snapshot.
	setStatus(t, base, "o2", "processing") // paid > processing (prefetch)
	app.mu.Lock()
	app.status["o2"] = "on-hold"
	app.mu.Unlock()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/orders/o2", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("GET o2: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	setStatus(t, base, "o2", "shipped") // on-hold > shipped

	// o3: the prefetch fails (500): previous is null, and it says why.
	app.mu.Lock()
	app.failGET["o3"] = true
	app.mu.Unlock()
	setStatus(t, base, "o3", "paid")

	// o4: a payment callback names the order in its body: the key is read
	// ahead, the old state prefetched with the caller's other headers
	// (X-User-Id), and the app still gets the whole body. Paying twice
	// emits once.
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, base+"/hooks/pay", strings.NewReader(`{"data":{"order":"o4"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User-Id", "7")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Fatalf("pay: %d", r.StatusCode)
		}
	}

	// The payment forgot o4's state: the next change fetches it again.
	setStatus(t, base, "o4", "shipped")
	if n := app.getCount("o4"); n != 3 {
		t.Errorf("o4 was fetched %d times, want 3 (each payment, then the status change)", n)
	}

	c.Stop()
	evs := storedEvents(t, storage)
	if paid := byName(evs, "order.paid"); len(paid) != 1 || string(paid[0].Data) != `{"orderId":"o4","oldStatus":"pending","total":10}` {
		t.Errorf("order.paid: %+v", paid)
	}
	got := changes(t, evs, "order.status_changed")
	want := []change{
		{"o1", "pending", "paid"}, {"o1", "paid", "shipped"}, {"o1", "shipped", "delivered"},
		{"new1", "pending", "paid"},
		{"o2", "paid", "processing"}, {"o2", "on-hold", "shipped"},
		{"o3", "<null>", "paid"},
		{"o4", "paid", "shipped"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("status changes:\n got %v\nwant %v", got, want)
	}
	shipped := map[string]int{}
	for _, e := range byName(evs, "order.shipped") {
		var d struct{ OrderID string }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("order.shipped data %s: %v", e.Data, err)
		}
		shipped[d.OrderID]++
	}
	if len(shipped) != 3 || shipped["o1"] != 1 || shipped["o2"] != 1 || shipped["o4"] != 1 {
		t.Errorf("order.shipped: %v, want o1, o2 and o4 once each", shipped)
	}
	// The unknown order's prefetch got a 404 and o3's a 500.
	why := map[any]any{}
	for _, l := range logLines(c, "state_prefetch_failed") {
		why[l["key"]] = l["error"]
	}
	if len(why) != 2 || why["order:o3"] != "upstream answered 500" || why["order:nope"] != "upstream answered 404" {
		t.Errorf("state_prefetch_failed logs: %v", why)
	}
	// A 404 is the client asking about an order that does not exist:
	// routine, logged at debug; the 500 is worth a warning.
	for _, l := range logLines(c, "state_prefetch_failed") {
		want := map[any]string{"order:o3": "warn", "order:nope": "debug"}[l["key"]]
		if l["level"] != want {
			t.Errorf("state_prefetch_failed for %v logged at %v, want %s", l["key"], l["level"], want)
		}
	}
}

// TestSlowUploadDoesNotHoldResource: a client trickling its request body
// does not hold the resource's key while it uploads: another request on
// the same order goes through at once, with its previous state, and the
// slow one then sees the state the fast one left.
func TestSlowUploadDoesNotHoldResource(t *testing.T) {
	app, c, base, storage := startStateStack(t)

	// The slow client asks to continue: the server says so once a handler
	// starts reading the body, which tells the test the request is in the
	// handler (without the fix, holding the order's key).
	body := `{"status":"shipped"}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/orders/trickle/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t0ken\r\n"+
		"Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", cont, err)
	}
	io.WriteString(conn, body[:1])

	// Another client updates the same order: it must not wait for the
	// slow client's upload.
	fast := make(chan int, 1)
	go func() { fast <- setStatus(t, base, "trickle", "paid") }()
	select {
	case code := <-fast:
		if code != http.StatusOK {
			t.Fatalf("fast update: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fast update waited for the slow client's upload")
	}

	// The slow client finishes its body.
	if _, err := io.WriteString(conn, body[1:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusContinue { // the app's own 100, passed on
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("slow update: %d", resp.StatusCode)
	}
	if n := app.getCount("trickle"); n != 1 {
		t.Errorf("trickle fetched %d times, want 1 (by the first request to hold the key)", n)
	}
	c.Stop()
	got := changes(t, storedEvents(t, storage), "order.status_changed")
	want := []change{{"trickle", "pending", "paid"}, {"trickle", "paid", "shipped"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes: %v, want %v", got, want)
	}
}

// TestConcurrentStatusChanges: 50 concurrent updates of one order give a
// consistent chain, each old value the previous new one.
func TestConcurrentStatusChanges(t *testing.T) {
	_, c, base, storage := startStateStack(t)
	const n = 50
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if setStatus(t, base, "busy", fmt.Sprintf("s%d", i+1)) == http.StatusOK {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d updates answered 200", ok.Load(), n)
	}
	c.Stop()
	got := changes(t, storedEvents(t, storage), "order.status_changed")
	if len(got) != n {
		t.Fatalf("%d status changes for %d updates to distinct values", len(got), n)
	}
	next := map[string]string{}
	for _, ch := range got {
		if _, dup := next[ch.Old]; dup {
			t.Fatalf("old value %s appears twice: two updates saw the same previous state", ch.Old)
		}
		next[ch.Old] = ch.New
	}
	// Walk the chain from the initial status: it must pass every update.
	at, steps := "s0", 0
	for {
		nx, found := next[at]
		if !found {
			break
		}
		at, steps = nx, steps+1
	}
	if steps != n {
		t.Errorf("the chain from s0 has %d links, want %d: %v", steps, n, got)
	}
}

// TestPrefetchCutOff: a prefetch whose upstream body stalls past the
// prefetch timeout (reverse_proxy then panics with http.ErrAbortHandler)
// costs the request its previous state, not its answer, and leaves the
// resource unlocked for the next request.
func TestPrefetchCutOff(t *testing.T) {
	_, c, base, storage := startStateStack(t)
	for i, st := range []string{"paid", "shipped"} {
		done := make(chan int, 1)
		go func() { done <- setStatus(t, base, "slow", st) }()
		select {
		case code := <-done:
			if code != http.StatusOK {
				t.Fatalf("update %d: %d", i+1, code)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("update %d did not finish: the key stayed locked", i+1)
		}
	}
	c.Stop()
	got := changes(t, storedEvents(t, storage), "order.status_changed")
	if fmt.Sprint(got) != fmt.Sprint([]change{{"slow", "<null>", "paid"}, {"slow", "paid", "shipped"}}) {
		t.Errorf("changes: %v", got)
	}
	if n := len(logLines(c, "state_prefetch_failed")); n != 1 {
		t.Errorf("%d state_prefetch_failed lines, want 1", n)
	}
}

// TestNestedHandlersShareKeys: two webhooks handlers on one request's way
// (the site's and a route's) with rules on the same key: the inner one does
// not wait for the outer one, which holds the key for the same request.
func TestNestedHandlersShareKeys(t *testing.T) {
	_, up := newOrderApp(t, map[string]string{"n1": "pending"})
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(stateRules), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testbed.FreePort(t)
	// Inside route blocks, handlers run in the order written.
	c := testbed.StartCaddy(t, dir, testbed.Global("")+fmt.Sprintf(`http://127.0.0.1:%d {
	route {
		webhooks {
			rules %s
		}
		route /api/* {
			webhooks {
				rules %s
			}
			reverse_proxy %s
		}
	}
}
`, port, rulePath, rulePath, up.Listener.Addr()))
	done := make(chan int, 1)
	go func() { done <- setStatus(t, fmt.Sprintf("http://127.0.0.1:%d", port), "n1", "paid") }()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("update: %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the update did not finish: the inner handler waited for the outer one")
	}
	c.Stop()
	// Each handler infers the change once.
	got := changes(t, storedEvents(t, filepath.Join(dir, "webhooks")), "order.status_changed")
	if len(got) != 2 || got[0] != (change{"n1", "pending", "paid"}) || got[1] != got[0] {
		t.Errorf("changes: %v", got)
	}
}
