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
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// batchRules infer one event per order from the batch endpoints of an app
// that answers in envelopes, as Directus does: a create of one order or of
// several, a PATCH of {"keys": [...], "data": {...}}, a DELETE of [ids];
// and the single PATCH of one order.
const batchRules = `events:
  - name: order.created
    match: { method: POST, path: /items/orders, status: 200 }
    each: response.body.data
    state: { key: "order:{item.id}" }
    data: { orderId: item.id, status: item.status }
  - name: order.status_changed
    match: { method: PATCH, path: /items/orders, status: 200 }
    each: { source: request.body.keys, response: response.body.data, by: id }
    state:
      key: "order:{item}"
      prefetch: { request: "GET /items/orders/{item}", select: data }
    when: previous.status != response.item.status
    data: { orderId: item, oldStatus: previous.status, newStatus: response.item.status }
  - name: order.status_changed
    match: { method: PATCH, path: "/items/orders/{id}", status: 200 }
    state:
      key: "order:{path.id}"
      snapshot: response.body.data
      prefetch: { request: "GET /items/orders/{path.id}", select: data }
    when: previous.status != response.body.data.status
    data: { orderId: path.id, oldStatus: previous.status, newStatus: response.body.data.status }
  - name: order.deleted
    match: { method: DELETE, path: /items/orders, status: 204 }
    each: request.body
    state:
      key: "order:{item}"
      snapshot: none
      prefetch: { request: "GET /items/orders/{item}", select: data }
    data: { orderId: item, lastStatus: previous.status }
`

// batchApp is an app with batch endpoints. Its orders o1…o3 were created
// straight on it (the proxy never saw them); it records every status each
// order goes through, and how many GETs it answered.
type batchApp struct {
	mu      sync.Mutex
	status  map[string]string
	history map[string][]string // id → statuses in the order they were set
	gets    int
	next    int
}

func newBatchApp(t *testing.T) (*batchApp, *httptest.Server) {
	a := &batchApp{status: map[string]string{"o1": "pending", "o2": "new", "o3": "pending"}, history: map[string][]string{}}
	for id, s := range a.status {
		a.history[id] = []string{s}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/orders/{id}", a.get)
	mux.HandleFunc("POST /items/orders", a.create)
	mux.HandleFunc("PATCH /items/orders", a.patchMany)
	mux.HandleFunc("PATCH /items/orders/{id}", a.patchOne)
	mux.HandleFunc("DELETE /items/orders", a.deleteMany)
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return a, up
}

func (a *batchApp) order(id string) string {
	return fmt.Sprintf(`{"id":%q,"status":%q}`, id, a.status[id])
}

func (a *batchApp) set(id, status string) {
	a.status[id] = status
	a.history[id] = append(a.history[id], status)
}

func envelope(w http.ResponseWriter, data string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"data":`+data+`}`)
}

func (a *batchApp) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gets++
	id := r.PathValue("id")
	if _, ok := a.status[id]; !ok {
		http.NotFound(w, r)
		return
	}
	envelope(w, a.order(id))
}

func (a *batchApp) create(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var many []struct{ Status string }
	if err := json.Unmarshal(raw, &many); err != nil {
		var one struct{ Status string }
		if json.Unmarshal(raw, &one) != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		envelope(w, a.add(one.Status))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, o := range many {
		out = append(out, a.add(o.Status))
	}
	envelope(w, "["+strings.Join(out, ",")+"]")
}

func (a *batchApp) add(status string) string {
	a.next++
	id := fmt.Sprintf("n%d", a.next)
	a.history[id] = nil
	a.set(id, status)
	return a.order(id)
}

// patchMany changes the known orders among keys and answers them, in
// reverse order (pairing is by id, not by position); unknown keys are
// left out of the answer.
func (a *batchApp) patchMany(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Keys []string
		Data struct{ Status string }
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, id := range slices.Backward(body.Keys) {
		if _, ok := a.status[id]; ok {
			a.set(id, body.Data.Status)
			out = append(out, a.order(id))
		}
	}
	envelope(w, "["+strings.Join(out, ",")+"]")
}

func (a *batchApp) patchOne(w http.ResponseWriter, r *http.Request) {
	var body struct{ Status string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set(r.PathValue("id"), body.Status)
	envelope(w, a.order(r.PathValue("id")))
}

func (a *batchApp) deleteMany(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		delete(a.status, id)
	}
	w.WriteHeader(http.StatusNoContent)
}

func startBatch(t *testing.T) (*batchApp, *testbed.Caddy, string, string) {
	t.Helper()
	app, up := newBatchApp(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(batchRules), 0o600); err != nil {
		t.Fatal(err)
	}
	mp, pp := testbed.FreePort(t), testbed.FreePort(t)
	c := testbed.StartCaddy(t, dir, strings.Replace(caddyfileFor(mp, pp, up.Listener.Addr().String(), rulePath, ""), "max_body 4KiB", "max_body 64KiB", 1))
	return app, c, fmt.Sprintf("http://127.0.0.1:%d", mp), filepath.Join(dir, "webhooks")
}

func send(t *testing.T, method, url, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: %d, want %d", method, url, body, resp.StatusCode, want)
	}
}

// TestEachBatchEndpoints: a batch create, update and delete give one event
// per order, with the old values of orders the proxy never saw fetched
// per item before the request went upstream, and of orders it saw from
// their snapshots.
func TestEachBatchEndpoints(t *testing.T) {
	t.Parallel()
	app, c, base, store := startBatch(t)
	send(t, "POST", base+"/items/orders", `[{"status":"new"},{"status":"draft"}]`, 200) // n1, n2
	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 200)                      // n3: an object is one item
	send(t, "PATCH", base+"/items/orders", `{"keys":["o1","n1","o2"],"data":{"status":"paid"}}`, 200)
	send(t, "PATCH", base+"/items/orders", `{"keys":["o1","o3","nope"],"data":{"status":"paid"}}`, 200)
	send(t, "DELETE", base+"/items/orders", `["n2","o2"]`, 204)
	c.Stop()

	evs := storedEvents(t, store)
	var created []string
	for _, e := range byName(evs, "order.created") {
		created = append(created, string(e.Data))
	}
	if want := []string{`{"orderId":"n1","status":"new"}`, `{"orderId":"n2","status":"draft"}`, `{"orderId":"n3","status":"new"}`}; !reflect.DeepEqual(created, want) {
		t.Errorf("order.created:\n got %q\nwant %q", created, want)
	}
	// o1 was paid by the first PATCH (old value fetched), unchanged by
	// the second; n1's old value is its create's snapshot; "nope" is
	// not an order: no event.
	want := []change{{"o1", "pending", "paid"}, {"n1", "new", "paid"}, {"o2", "new", "paid"}, {"o3", "pending", "paid"}}
	if got := changes(t, evs, "order.status_changed"); !reflect.DeepEqual(got, want) {
		t.Errorf("order.status_changed:\n got %v\nwant %v", got, want)
	}
	var deleted []string
	for _, e := range byName(evs, "order.deleted") {
		deleted = append(deleted, string(e.Data))
	}
	if want := []string{`{"orderId":"n2","lastStatus":"draft"}`, `{"orderId":"o2","lastStatus":"paid"}`}; !reflect.DeepEqual(deleted, want) {
		t.Errorf("order.deleted:\n got %q\nwant %q", deleted, want)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	// Fetched: o1, o2 by the first PATCH, o3 and nope by the second;
	// nothing else (snapshots answer the rest).
	if app.gets != 4 {
		t.Errorf("the app answered %d GETs, want 4 (o1, o2, o3, nope)", app.gets)
	}
}

// TestEachTooManyItems: a batch over the bound is answered as usual, its
// events are skipped with a reason, and the orders' state is left alone.
func TestEachTooManyItems(t *testing.T) {
	t.Parallel()
	_, c, base, store := startBatch(t)
	keys := []string{`"o1"`}
	for i := range 1000 {
		keys = append(keys, fmt.Sprintf(`"x%d"`, i))
	}
	send(t, "PATCH", base+"/items/orders", `{"keys":[`+strings.Join(keys, ",")+`],"data":{"status":"paid"}}`, 200)
	send(t, "PATCH", base+"/items/orders", `{"keys":["o1"],"data":{"status":"shipped"}}`, 200)
	c.Stop()
	skipped := logLines(c, "event_skipped")
	if len(skipped) != 1 || skipped[0]["reason"] != "each_too_many" || skipped[0]["event"] != "order.status_changed" {
		t.Errorf("event_skipped logs: %v", skipped)
	}
	// The big batch wrote no snapshot: o1 is fetched again, as paid.
	want := []change{{"o1", "paid", "shipped"}}
	if got := changes(t, storedEvents(t, store), "order.status_changed"); !reflect.DeepEqual(got, want) {
		t.Errorf("order.status_changed:\n got %v\nwant %v", got, want)
	}
}

// TestEachConcurrentChains: batch and single updates of overlapping
// orders from several clients at once still give, for each order, the
// changes it really went through: each event's old status is the one the
// order had before that change.
func TestEachConcurrentChains(t *testing.T) {
	t.Parallel()
	app, c, base, store := startBatch(t)
	ids := []string{"o1", "o2", "o3"}
	statuses := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for w := range 4 {
		r := rand.New(rand.NewPCG(uint64(w), 7))
		wg.Go(func() {
			for range 15 {
				st := statuses[r.IntN(len(statuses))]
				if r.IntN(2) == 0 {
					send(t, "PATCH", base+"/items/orders/"+ids[r.IntN(len(ids))], `{"status":"`+st+`"}`, 200)
					continue
				}
				keys := slices.Clone(ids)
				r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
				keys = keys[:1+r.IntN(len(keys))]
				send(t, "PATCH", base+"/items/orders", fmt.Sprintf(`{"keys":["%s"],"data":{"status":%q}}`, strings.Join(keys, `","`), st), 200)
			}
		})
	}
	wg.Wait()
	c.Stop()

	// Compared as multisets: the events' timestamps have milliseconds,
	// and two changes of one order can fall in the same one. Without the
	// items' keys held, events get old values the order no longer had,
	// and the multisets differ.
	got := map[string][]change{}
	for _, ch := range changes(t, storedEvents(t, store), "order.status_changed") {
		got[ch.Order] = append(got[ch.Order], ch)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	for _, id := range ids {
		var want []change
		h := app.history[id]
		for i := 1; i < len(h); i++ {
			if h[i] != h[i-1] {
				want = append(want, change{id, h[i-1], h[i]})
			}
		}
		byValues := func(a, b change) int { return strings.Compare(a.Old+">"+a.New, b.Old+">"+b.New) }
		slices.SortFunc(want, byValues)
		slices.SortFunc(got[id], byValues)
		if !reflect.DeepEqual(got[id], want) {
			t.Errorf("%s: events\n %v\nwant the app's changes\n %v", id, got[id], want)
		}
	}
}
