package natsstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/natsstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// The end-to-end tests of several Caddy nodes on one NATS cluster: real
// nats-server and Caddy processes on free loopback ports, in front of one
// order app, delivering to one receiver.

// clusterRules infer orders and their status changes. The status change
// has no prefetch: its old value is the snapshot that the create, or the
// last change, left, whichever node it went through.
const clusterRules = `events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    state: { key: "order:{response.body._id}", snapshot: response.body }
    data: { orderId: response.body._id, status: response.body.status }
  - name: order.status_changed
    match: { method: PATCH, path: "/api/orders/{id}/status", status: 2xx }
    state: { key: "order:{path.id}", snapshot: response.body }
    when: previous.status != response.body.status
    data:
      orderId: path.id
      oldStatus: previous.status
      newStatus: response.body.status
`

// webhookCluster is the cluster under test.
type webhookCluster struct {
	t      *testing.T
	nats   *testbed.NATSCluster
	nodes  []*caddyNode
	app    *orderApp
	rcv    *eventReceiver
	config func(port int) string // a node's Caddyfile
}

// caddyNode is one Caddy of the cluster: its site's URL and admin API.
type caddyNode struct {
	caddy *testbed.Caddy
	port  int
	base  string
	api   testbed.API
}

// startWebhookCluster starts a 3-node NATS cluster, the order app, the
// receiver and n Caddy nodes, each with webhooks (more lines of the
// webhooks block, where {RECEIVER} is the receiver's URL) and the NATS
// storage under a prefix of its own test.
func startWebhookCluster(t *testing.T, n int, webhooks string) *webhookCluster {
	t.Helper()
	wc := &webhookCluster{t: t, nats: testbed.StartNATS(t, testbed.NATSOptions{}), app: newOrderApp(t), rcv: newEventReceiver(t)}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(clusterRules), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := fmt.Sprintf("nats {\n\t\t\turl %s\n\t\t\tprefix %s\n\t\t\treplicas 3\n\t\t}", wc.nats.URL(), prefixOf(t))
	webhooks = strings.ReplaceAll(webhooks, "{RECEIVER}", wc.rcv.srv.URL)
	wc.config = func(port int) string {
		return testbed.GlobalStorage(storage, "allow_private_targets\n\t\tretry 200ms 500ms 1s 2s 4s 8s\n\t\ttimeout 2s\n\t\trate_limit 10000/s\n\t\t"+webhooks) +
			testbed.Site(port, rules, wc.app.srv.Listener.Addr())
	}
	for range n {
		wc.startNode(testbed.FreePort(t), "")
	}
	return wc
}

// prefixOf makes a prefix of streams and buckets from the test's name.
func prefixOf(t *testing.T) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
}

// startNode starts a Caddy node on port, in dir ("" for a new one).
func (wc *webhookCluster) startNode(port int, dir string) *caddyNode {
	c := testbed.StartCaddy(wc.t, dir, wc.config(port))
	n := &caddyNode{caddy: c, port: port, base: fmt.Sprintf("http://127.0.0.1:%d", port), api: testbed.API{T: wc.t, Base: "http://" + c.AdminAddr}}
	wc.nodes = append(wc.nodes, n)
	// On a loaded machine a new cluster may take longer than one open's
	// bound to make its buckets; the node opens its store again until it
	// can: wait for that, as an operator would, before using it.
	testbed.Eventually(wc.t, 90*time.Second, "the node's store open", func() bool {
		r := n.api.Do(http.MethodGet, "/webhooks/stats", nil)
		var st struct {
			Store struct{ Status string } `json:"store"`
		}
		return r.Status == http.StatusOK && json.Unmarshal(r.Body, &st) == nil && st.Store.Status == "ok"
	})
	return n
}

// subscribe creates, through node, a subscription to every order event
// for the receiver.
func (wc *webhookCluster) subscribe(node *caddyNode, extra map[string]any) string {
	body := map[string]any{"url": wc.rcv.srv.URL + "/hook", "events": []string{"order.*"}}
	for k, v := range extra {
		body[k] = v
	}
	id := testbed.Str(node.api.Create(body)["id"])
	// Every node fans an event out to the subscriptions it follows (its
	// list, within the watch's latency), not to those in the bucket.
	for i, n := range wc.nodes {
		testbed.Eventually(wc.t, 5*time.Second, fmt.Sprintf("node %d follows subscription %s", i, id), func() bool {
			return slices.ContainsFunc(n.api.ListSubs(""), func(sub map[string]any) bool { return testbed.Str(sub["id"]) == id })
		})
	}
	return id
}

// owner returns the node that sends the deliveries: the one whose log
// has them (a line written just after the attempt's record, so waited
// for).
func (wc *webhookCluster) owner() *caddyNode {
	wc.t.Helper()
	var found *caddyNode
	wc.waitDelivered("a node logs a delivery", func() bool {
		for _, n := range wc.nodes {
			for _, l := range n.caddy.LogLines() {
				if l["msg"] == "webhook_delivered" {
					found = n
					return true
				}
			}
		}
		return false
	})
	return found
}

// waitSettled waits until no node has a pending delivery, so that a
// duplicate send would have arrived: a claimed delivery stays pending
// until its attempt is recorded.
func (wc *webhookCluster) waitSettled() {
	wc.t.Helper()
	wc.waitDelivered("no pending delivery on any node", func() bool {
		for _, n := range wc.nodes {
			// Absent (a store unavailable for the moment) is not 0.
			if n.api.Do(http.MethodGet, "/webhooks/stats", nil).Object(wc.t)["queue_depth"] != 0.0 {
				return false
			}
		}
		return true
	})
}

// waitDelivered waits up to a minute for cond; if it does not come, the
// test fails with what each node says of the store and the deliveries
// (its stats, the warnings and errors it logged, the subscriptions'
// failed and pending deliveries), so that a failure on a loaded machine
// says where the events stopped.
func (wc *webhookCluster) waitDelivered(what string, cond func() bool) {
	wc.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			wc.explain()
			wc.t.Fatalf("timed out after 1m0s: %s (%d deliveries received)", what, len(wc.rcv.all()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// explain logs each node's view of the deliveries, and the events it
// stored that the receiver did not get.
func (wc *webhookCluster) explain() {
	got := map[string]bool{}
	for _, ev := range wc.rcv.all() {
		got[ev.ID] = true
	}
	for i, n := range wc.nodes {
		wc.t.Logf("node %d stats: %s", i, n.api.Do(http.MethodGet, "/webhooks/stats", nil).Body)
		var recent []map[string]any
		if err := json.Unmarshal(n.api.Do(http.MethodGet, "/webhooks/events/recent?limit=500", nil).Body, &recent); err != nil {
			wc.t.Logf("node %d recent events: %v", i, err)
		}
		for _, ev := range recent {
			if !got[testbed.Str(ev["id"])] {
				wc.t.Logf("node %d stored, not received: %v", i, ev)
			}
		}
		for _, sub := range n.api.ListSubs("") {
			for _, status := range []string{webhook.Failed, webhook.Pending} {
				r := n.api.Do(http.MethodGet, "/webhooks/subscriptions/"+testbed.Str(sub["id"])+"/deliveries?limit=5&status="+status, nil)
				wc.t.Logf("node %d, %s deliveries of %s: %s", i, status, testbed.Str(sub["id"]), r.Body)
			}
		}
		for _, l := range n.caddy.LogLines() {
			if l["level"] == "warn" || l["level"] == "error" {
				wc.t.Logf("node %d logged: %v", i, l)
			}
		}
	}
}

// createOrder creates an order through node and returns its id, or "" if
// the client did not get a 201.
func createOrder(node *caddyNode) string {
	resp, err := http.Post(node.base+"/api/orders", "application/json", strings.NewReader(`{}`))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var o struct {
		ID string `json:"_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&o) != nil {
		return ""
	}
	return o.ID
}

// setStatus changes an order's status through node and returns the status
// code the client got (0: no answer).
func setStatus(node *caddyNode, id, status string) int {
	req, _ := http.NewRequest(http.MethodPatch, node.base+"/api/orders/"+id+"/status", strings.NewReader(`{"status":"`+status+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// orderApp is the legacy app: orders with a status, created and changed.
type orderApp struct {
	srv    *httptest.Server
	mu     sync.Mutex
	n      int
	status map[string]string
}

func newOrderApp(t *testing.T) *orderApp {
	a := &orderApp{status: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		a.n++
		id := fmt.Sprintf("o%d", a.n)
		a.status[id] = "pending"
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"_id":%q,"status":"pending"}`, id)
	})
	mux.HandleFunc("PATCH /api/orders/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Status string }
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Status == "" {
			http.Error(w, `{"error":"bad status"}`, http.StatusBadRequest)
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
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"_id":%q,"status":%q}`, id, in.Status)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// received is one delivery as the receiver got it.
type received struct {
	ID    string `json:"id"`
	Event string `json:"event"`
	Data  struct {
		OrderID   string `json:"orderId"`
		OldStatus string `json:"oldStatus"`
		NewStatus string `json:"newStatus"`
	} `json:"data"`
	At time.Time `json:"-"`
}

// eventReceiver records every delivery and answers 200.
type eventReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

func newEventReceiver(t *testing.T) *eventReceiver {
	r := &eventReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev received
		b, _ := io.ReadAll(req.Body)
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&ev); err != nil {
			t.Errorf("receiver: %v: %s", err, b)
		}
		ev.At = time.Now()
		r.mu.Lock()
		r.got = append(r.got, ev)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// all returns the deliveries so far, in the order they came.
func (r *eventReceiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// count returns how many deliveries of event came.
func (r *eventReceiver) count(event string) int {
	n := 0
	for _, ev := range r.all() {
		if ev.Event == event {
			n++
		}
	}
	return n
}

// byID counts the deliveries of each event id.
func (r *eventReceiver) byID() map[string]int {
	out := map[string]int{}
	for _, ev := range r.all() {
		out[ev.ID]++
	}
	return out
}

// TestClusterOneService: a subscription created through node A's admin
// API is served by node B's; orders created through A and changed
// through B, then A, carry the right old and new status without a
// prefetch; each event is delivered once, not once per node.
func TestClusterOneService(t *testing.T) {
	wc := startWebhookCluster(t, 2, "")
	a, b := wc.nodes[0], wc.nodes[1]
	id := wc.subscribe(a, nil)
	if got := b.api.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil).Status; got != http.StatusOK {
		t.Fatalf("node B answers %d for the subscription made on A", got)
	}

	const orders = 10
	var ids []string
	for range orders {
		oid := createOrder(a)
		if oid == "" {
			t.Fatal("an order was not created")
		}
		ids = append(ids, oid)
	}
	for _, oid := range ids {
		if got := setStatus(b, oid, "paid"); got != http.StatusOK {
			t.Fatalf("paid through B: %d", got)
		}
		if got := setStatus(a, oid, "shipped"); got != http.StatusOK {
			t.Fatalf("shipped through A: %d", got)
		}
	}
	wc.waitDelivered("every event delivered", func() bool {
		return wc.rcv.count("order.created") >= orders && wc.rcv.count("order.status_changed") >= 2*orders
	})
	want := map[string]bool{}
	for _, oid := range ids {
		want[oid+" pending→paid"], want[oid+" paid→shipped"] = true, true
	}
	for _, ev := range wc.rcv.all() {
		if ev.Event != "order.status_changed" {
			continue
		}
		k := fmt.Sprintf("%s %s→%s", ev.Data.OrderID, ev.Data.OldStatus, ev.Data.NewStatus)
		if !want[k] {
			t.Errorf("unexpected change %s", k)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("changes not delivered: %v", want)
	}
	wc.waitSettled()
	for evID, n := range wc.rcv.byID() {
		if n != 1 {
			t.Errorf("event %s delivered %d times, want once by the cluster", evID, n)
		}
	}
	// Each node's commits are in its publish metrics.
	for i, n := range wc.nodes {
		metrics := string(n.api.Do(http.MethodGet, "/metrics", nil).Body)
		if !strings.Contains(metrics, "caddy_webhooks_nats_publish_duration_seconds_count") ||
			strings.Contains(metrics, "caddy_webhooks_nats_publish_duration_seconds_count 0\n") {
			t.Errorf("node %d's metrics have no publish: %.300s", i, metrics)
		}
	}
}

// TestClusterConcurrentChain: 50 concurrent status changes of one order,
// alternating between the nodes, give one consistent chain of old → new
// values.
func TestClusterConcurrentChain(t *testing.T) {
	wc := startWebhookCluster(t, 2, "")
	wc.subscribe(wc.nodes[0], nil)
	oid := createOrder(wc.nodes[0])
	if oid == "" {
		t.Fatal("the order was not created")
	}
	const n = 50
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range n {
		wg.Go(func() {
			if setStatus(wc.nodes[i%2], oid, fmt.Sprintf("s%d", i+1)) == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d changes answered 200", ok.Load(), n)
	}
	testbed.Eventually(t, 30*time.Second, "50 status changes delivered", func() bool {
		return wc.rcv.count("order.status_changed") >= n
	})
	next := map[string]string{}
	for _, ev := range wc.rcv.all() {
		if ev.Event != "order.status_changed" {
			continue
		}
		if _, dup := next[ev.Data.OldStatus]; dup {
			t.Fatalf("old status %s appears twice: two changes saw the same previous state", ev.Data.OldStatus)
		}
		next[ev.Data.OldStatus] = ev.Data.NewStatus
	}
	at, steps := "pending", 0
	for ; next[at] != ""; steps++ {
		at = next[at]
	}
	if steps != n {
		t.Errorf("the chain from pending has %d steps, want %d: %v", steps, n, next)
	}
}

// TestClusterRateLimit: a subscription's rate limit holds for the cluster:
// with rate_limit 10/m and 30 events inferred through two nodes, 10 are
// delivered in the first minute, in all.
func TestClusterRateLimit(t *testing.T) {
	wc := startWebhookCluster(t, 2, "")
	sub := wc.subscribe(wc.nodes[0], map[string]any{"rate_limit": "10/m"})
	// A handover restarts the rate window (a documented limit): wait until
	// the node the hashing names among both holds the lease, so none comes.
	wc.waitOwned(sub)
	start := time.Now()
	for i := range 30 {
		if createOrder(wc.nodes[i%2]) == "" {
			t.Fatal("an order was not created")
		}
	}
	testbed.Eventually(t, 30*time.Second, "the first 10 deliveries", func() bool { return len(wc.rcv.all()) >= 10 })
	// What the rate holds back stays back: nothing more comes while the
	// minute runs (watched for 5 s past the tenth, or until a minute).
	watch := time.Now().Add(5 * time.Second)
	for time.Now().Before(watch) && time.Since(start) < time.Minute {
		if n := len(wc.rcv.all()); n > 10 {
			t.Fatalf("%d deliveries %s after the first order, want 10 in the first minute", n, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOwned waits until the lease of sub is held by the node the hashing
// names among the live nodes, and both nodes' heartbeats are in: the
// ownership of a cluster that no node joins or leaves, so it stays.
func (wc *webhookCluster) waitOwned(sub string) {
	wc.t.Helper()
	nc, err := nats.Connect(wc.nats.URL())
	if err != nil {
		wc.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		wc.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, prefixOf(wc.t)+"_nodes")
	if err != nil {
		wc.t.Fatal(err)
	}
	testbed.Eventually(wc.t, 30*time.Second, "the subscription's lease with its owner", func() bool {
		var live []string
		keys, err := kv.Keys(ctx)
		if err != nil {
			return false
		}
		for _, k := range keys {
			if tok, ok := strings.CutPrefix(k, natsstore.HeartbeatKeyPrefix); ok {
				if e, err := kv.Get(ctx, k); err == nil && natsstore.KeyToken(string(e.Value())) == tok {
					live = append(live, string(e.Value()))
				}
			}
		}
		lease, err := kv.Get(ctx, natsstore.LeaseKeyPrefix+natsstore.KeyToken(sub))
		if len(live) != len(wc.nodes) || err != nil {
			return false
		}
		var v struct{ Node string }
		return json.Unmarshal(lease.Value(), &v) == nil && v.Node == natsstore.OwnerOf(live, sub)
	})
}

// TestClusterCrash: under a load spread over both nodes, the Caddy node
// that sends the subscription's deliveries (its owner) is killed with
// SIGKILL, and one NATS server is killed with SIGKILL and restarted: every
// order whose client got a 201 is delivered at least once (the other node
// takes the subscription over, and the killed node's claims once their
// lease runs out), and repeats come only from the crash, not from the
// nodes each sending every event.
func TestClusterCrash(t *testing.T) {
	wc := startWebhookCluster(t, 2, "workers 4")
	wc.subscribe(wc.nodes[0], nil)

	var mu sync.Mutex
	var created []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				node := wc.nodes[(w+i)%2]
				if node.caddy.Exited() != nil {
					node = wc.nodes[(w+i+1)%2]
				}
				if oid := createOrder(node); oid != "" {
					mu.Lock()
					created = append(created, oid)
					mu.Unlock()
				}
			}
		})
	}
	waitCreated := func(n int) {
		// 90 s: a bound, not a pace (on a loaded 2-core machine with
		// -race the creates have taken over 30 s).
		testbed.Eventually(t, 90*time.Second, fmt.Sprintf("%d orders created", n), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(created) >= n
		})
	}
	waitCreated(100)
	testbed.Eventually(t, 30*time.Second, "deliveries going out", func() bool { return len(wc.rcv.all()) >= 50 })
	a, b := wc.owner(), wc.nodes[0]
	if a == b {
		b = wc.nodes[1]
	}
	a.caddy.Kill()
	waitCreated(200)
	victim := wc.nats.Nodes[2]
	victim.Kill()
	waitCreated(300)
	victim.Restart()
	waitCreated(400)
	close(stop)
	wg.Wait()

	mu.Lock()
	want := append([]string(nil), created...)
	mu.Unlock()
	delivered := func() map[string]int {
		out := map[string]int{}
		for _, ev := range wc.rcv.all() {
			if ev.Event == "order.created" {
				out[ev.Data.OrderID]++
			}
		}
		return out
	}
	// A's claims come due again after their lease (timeout 2s + 10s).
	missing := func() []string {
		got := delivered()
		var out []string
		for _, oid := range want {
			if got[oid] == 0 {
				out = append(out, oid)
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if m := missing(); len(m) > 0 {
		var stats map[string]any
		_ = json.Unmarshal(b.api.Do(http.MethodGet, "/webhooks/stats", nil).Body, &stats)
		kinds := map[string]int{}
		for _, l := range b.caddy.LogLines() {
			if l["level"] == "error" || l["level"] == "warn" {
				k := fmt.Sprint(l["msg"], " ", l["reason"], " ", l["error"])
				if i := strings.Index(k, "order:o"); i >= 0 {
					k = k[:i]
				}
				if kinds[k]++; kinds[k] == 1 {
					t.Logf("the surviving node logged: %v", l)
				}
			}
		}
		t.Logf("its warnings and errors, by kind: %v", kinds)
		t.Fatalf("%d of %d orders not delivered (%v…); B's stats: %v", len(m), len(want), m[:min(5, len(m))], stats)
	}
	repeats := 0
	for _, n := range wc.rcv.byID() {
		repeats += n - 1
	}
	// At most what A's 4 workers had in flight, and what the NATS server's
	// crash cut between a send and its record.
	if repeats > 8 {
		t.Errorf("%d repeated deliveries of %d events: more than a crash explains", repeats, len(wc.rcv.byID()))
	}
	t.Logf("%d orders, %d deliveries, %d repeats", len(want), len(wc.rcv.all()), repeats)
}

// TestClusterConfigSubscriptions: nodes that carry the same config keep
// one copy of its subscription, which both serve, and each event goes to
// it once.
func TestClusterConfigSubscriptions(t *testing.T) {
	wc := startWebhookCluster(t, 2, "subscription partner {\n\t\t\turl {RECEIVER}/hook\n\t\t\tevents order.*\n\t\t\tsecret whsec_eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=\n\t\t}")
	for i, n := range wc.nodes {
		subs := n.api.ListSubs("")
		if len(subs) != 1 || testbed.Str(subs[0]["id"]) != "sub_partner" || testbed.Str(subs[0]["managed_by"]) != "config" {
			t.Errorf("node %d lists %v, want the one config subscription", i, subs)
		}
	}
	for i := range 4 {
		if createOrder(wc.nodes[i%2]) == "" {
			t.Fatal("an order was not created")
		}
	}
	wc.waitDelivered("4 deliveries", func() bool { return len(wc.rcv.all()) >= 4 })
	wc.waitSettled()
	for evID, n := range wc.rcv.byID() {
		if n != 1 {
			t.Errorf("event %s delivered %d times, want once", evID, n)
		}
	}
}
