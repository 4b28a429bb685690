package catalogue_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed of the random traffic (0: a new seed, logged)")
	opsFlag  = flag.Int("ops", 90, "operations per worker (two shop workers, two CRM workers)")
)

// TestCatalogueRandomTraffic sends seeded random traffic to both example
// apps through one real Caddy and compares the events a subscribed
// receiver gets with the events the client expects from what it sent and
// what the apps answered (CATALOGUE.md): as multisets keyed by event name,
// user_id and key payload fields, then field by field. Concurrency: two
// workers per app on distinct resources, and bursts of concurrent requests
// on single resources (one burst of random status changes whose events
// must form a chain consistent with the answers; one of concurrent CRM
// batch updates of overlapping sets of tasks).
func TestCatalogueRandomTraffic(t *testing.T) {
	seed := *seedFlag
	if env := os.Getenv("CATALOGUE_SEED"); seed == 0 && env != "" {
		n, err := strconv.ParseUint(env, 10, 64)
		if err != nil {
			t.Fatalf("CATALOGUE_SEED=%q: %v", env, err)
		}
		seed = n
	}
	switch {
	case seed != 0:
	case os.Getenv("CI") != "":
		seed = 20261123 // CI gates a merge: the same traffic each time (60 other seeds swept by hand)
	default:
		seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	t.Logf("seed %d (rerun with: go -C examples test -race -run TestCatalogueRandomTraffic ./catalogue -args -seed %d, or CATALOGUE_SEED=%d)", seed, seed, seed)

	shopApp := httptest.NewServer(shop.New())
	t.Cleanup(shopApp.Close)
	crmApp := httptest.NewServer(crm.New())
	t.Cleanup(crmApp.Close)

	recv := newReceiver(t)
	t.Cleanup(recv.srv.Close)

	shopPort, crmPort := testbed.FreePort(t), testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global(`allow_private_targets
		retry 250ms 500ms 1s
		timeout 5s`)+
		testbed.Site(shopPort, "examples/shop/rules.yaml", shopApp.Listener.Addr())+
		testbed.Site(crmPort, "examples/crm/rules.yaml", crmApp.Listener.Addr()))
	admin := "http://" + c.AdminAddr
	recv.subscribe(t, admin)
	start := time.Now()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(hc.CloseIdleConnections)
	tl := &tally{statuses: map[int]int{}}
	call := &caller{t: t, hc: hc, tally: tl}
	shopProxy, crmProxy := fmt.Sprintf("http://127.0.0.1:%d", shopPort), fmt.Sprintf("http://127.0.0.1:%d", crmPort)

	// Each worker and burst has its own random source drawn from the seed,
	// and its own resources, so that its model of them is exact.
	master := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sub := func() *rand.Rand { return rand.New(rand.NewPCG(master.Uint64(), master.Uint64())) }
	var wg sync.WaitGroup
	run := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	for g := range 2 {
		w := &shopWorker{g: g, r: sub(), c: call, proxy: shopProxy, app: shopApp.URL, lastStripe: map[string]string{}}
		run(func() { w.run(*opsFlag) })
	}
	for g := range 2 {
		w := &crmWorker{g: g, r: sub(), c: call, proxy: crmProxy, app: crmApp.URL}
		run(func() { w.run(*opsFlag) })
	}
	bursts := []func(*rand.Rand){
		func(r *rand.Rand) { shopBurstChain(call, r, shopProxy, 10) },
		func(r *rand.Rand) { shopBurstPay(call, r, shopProxy, shopApp.URL, 6) },
		func(r *rand.Rand) { shopBurstSame(call, r, shopProxy, 6) },
		func(r *rand.Rand) { crmBurstDone(call, r, crmProxy, crmApp.URL, 6) },
		func(r *rand.Rand) { crmBurstSign(call, r, crmProxy, 5) },
		func(r *rand.Rand) { crmBurstBatch(call, r, crmProxy, crmApp.URL, 5) },
	}
	for _, b := range bursts {
		r := sub()
		run(func() { b(r) })
	}
	wg.Wait()
	trafficDone := time.Now()

	// Every event was stored before its response came back (durability
	// sync): wait until the store has delivered (or given up on) all of them.
	st := waitDrained(t, admin, recv)

	got := recv.events()
	for _, e := range recv.problems() {
		t.Errorf("receiver: %s", e)
	}
	if st.Deliveries["failed"] != 0 {
		t.Errorf("%d deliveries failed", st.Deliveries["failed"])
	}
	if int64(len(got)) != st.Events {
		t.Errorf("the store holds %d events, the receiver got %d distinct ones", st.Events, len(got))
	}

	// The bursts of random status changes: checked as chains, apart.
	var rest []received
	chainEvents := map[string][]received{}
	for _, e := range got {
		if ch := tl.chainFor(e); ch != nil {
			chainEvents[ch.orderID] = append(chainEvents[ch.orderID], e)
			continue
		}
		rest = append(rest, e)
	}
	for _, ch := range tl.chains {
		if err := ch.check(chainEvents[ch.orderID]); err != nil {
			t.Errorf("burst of status changes on order %s: %v", ch.orderID, err)
		} else {
			t.Logf("burst on order %s: %d concurrent status changes (%s), %d events (order.status_changed, order.shipped): a consistent chain %s",
				ch.orderID, len(ch.reqs), ch.codes(), len(chainEvents[ch.orderID]), ch.path)
		}
	}

	m := compare(tl.exp, rest)
	precision, recall := ratio(m.matched, len(rest)), ratio(m.matched, len(tl.exp))
	t.Logf("seed %d: %d requests (%d through Caddy, %d straight to the apps; answers %s) in %s, deliveries drained %s later",
		seed, tl.proxied+tl.direct, tl.proxied, tl.direct, tl.codes(), trafficDone.Sub(start).Round(time.Millisecond), time.Since(trafficDone).Round(time.Millisecond))
	t.Logf("events: expected %d, received %d (plus %d in burst chains; %d redelivered ids), matched %d: precision %.4f, recall %.4f; payload fields checked %d, differing %d",
		len(tl.exp), len(rest), len(got)-len(rest), recv.dupes(), m.matched, precision, recall, m.fields, len(m.diffs))
	t.Logf("events by name (expected/received): %s", m.byName)
	var unused []string
	for name := range keyFields {
		if !slices.ContainsFunc(tl.exp, func(e expectedEvent) bool { return e.name == name }) {
			unused = append(unused, name)
		}
	}
	if sort.Strings(unused); len(unused) > 0 {
		t.Logf("catalogue events this seed did not exercise: %s", strings.Join(unused, ", "))
	}
	t.Logf("no-op PUTs on CRM records whose reference a deletion had cleared: %d", tl.afterCascade)
	t.Logf("CRM batches through Caddy that the CRM accepted: %s", tl.batchSummary())
	if logs := c.Logs(); logs != "" {
		t.Logf("caddy log: %s", logSummary(logs))
	}
	for _, d := range m.missing {
		t.Errorf("expected, not received: %s", d)
	}
	for _, d := range m.extra {
		t.Errorf("received, not expected: %s", d)
	}
	for _, d := range m.diffs {
		t.Errorf("payload differs: %s", d)
	}
	if precision != 1 || recall != 1 {
		t.Errorf("precision %.4f, recall %.4f: want 1 and 1 (seed %d)", precision, recall, seed)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return 0
	}
	return float64(a) / float64(b)
}

// ---------------------------------------------------------------- the client's side

// tally is what the client saw: requests and their answers, the events it
// expects, and the bursts to check as chains.
type tally struct {
	mu       sync.Mutex
	exp      []expectedEvent
	proxied  int
	direct   int
	statuses map[int]int
	chains   []*chain
	// afterCascade counts the no-op PUTs sent to CRM records that a
	// deletion had changed behind the proxy's back.
	afterCascade int
	// batches counts the CRM batches through Caddy that succeeded, by
	// kind ("PATCH people"): requests, records, and records created
	// straight on the CRM.
	batches map[string][3]int
}

type expectedEvent struct {
	name string
	user string // user_id as JSON ("\"12\""), "" for none
	data any    // decoded JSON
	why  string // the request that caused it
}

// expect records an event the client expects; data maps output fields to
// values (nil for null).
func (tl *tally) expect(name, user string, data map[string]any, why string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.exp = append(tl.exp, expectedEvent{name: name, user: user, data: normalize(data), why: why})
}

func (tl *tally) addChain(ch *chain) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.chains = append(tl.chains, ch)
}

// chainFor returns the burst chain that a status event belongs to.
func (tl *tally) chainFor(e received) *chain {
	if e.name != "order.status_changed" && e.name != "order.shipped" {
		return nil
	}
	id, _ := e.data.(map[string]any)["orderId"].(string)
	for _, ch := range tl.chains {
		if ch.orderID == id {
			return ch
		}
	}
	return nil
}

func (tl *tally) codes() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var keys []int
	for k := range tl.statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", tl.statuses[k], k))
	}
	return strings.Join(parts, " ")
}

// caller sends the requests and counts them.
type caller struct {
	t     *testing.T
	hc    *http.Client
	tally *tally
}

type answer struct {
	status int
	body   gjson.Result
	doc    map[string]any // the body as a JSON object, nil otherwise
}

// do sends method base+path with body (JSON unless empty) and the header
// name/value pairs; proxied says whether base is Caddy.
func (c *caller) do(proxied bool, base, method, path, body string, header ...string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("%s %s: reading the answer: %v", method, path, err)
		return answer{}
	}
	c.tally.mu.Lock()
	if proxied {
		c.tally.proxied++
		c.tally.statuses[resp.StatusCode]++
	} else {
		c.tally.direct++
	}
	c.tally.mu.Unlock()
	a := answer{status: resp.StatusCode, body: gjson.ParseBytes(b)}
	if a.body.IsObject() {
		_ = json.Unmarshal(b, &a.doc)
	}
	return a
}

// want reports an answer whose status is not one the client expected (the
// generator's idea of the app is wrong: a bug of this test, or of the app).
func (c *caller) want(a answer, what string, codes ...int) {
	if a.status != 0 && !slices.Contains(codes, a.status) {
		c.t.Errorf("%s: answered %d %s, want %v", what, a.status, a.body.Raw, codes)
	}
}

// obj writes a JSON object with its keys in the order given: key, value,
// key, value… A value of type rawJSON is written as is.
func obj(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i].(string))
		b.Write(k)
		b.WriteByte(':')
		if raw, ok := kv[i+1].(rawJSON); ok {
			b.WriteString(string(raw))
			continue
		}
		v, _ := json.Marshal(kv[i+1])
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

type rawJSON string

// jv is the value of a gjson result as decoded JSON (nil when missing).
func jv(r gjson.Result) any {
	if !r.Exists() {
		return nil
	}
	var v any
	_ = json.Unmarshal([]byte(r.Raw), &v)
	return v
}

// normalize returns v as encoding/json decodes it (float64 numbers,
// map[string]any objects).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// kvs returns the ordered keys of kv (key, value, …).
func kvs(kv []any) []string {
	var keys []string
	for i := 0; i < len(kv); i += 2 {
		keys = append(keys, kv[i].(string))
	}
	return keys
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// chance is true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// ---------------------------------------------------------------- the receiver

// receiver is the subscriber: it verifies every delivery's standard
// signature with the secret the admin API gave, and keeps the events by id.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	subID  string
	byID   map[string]received
	order  []string
	redone int
	errs   []string
}

type received struct {
	id   string
	name string
	user string
	data any
	raw  string
}

func newReceiver(t *testing.T) *receiver {
	rv := &receiver{byID: map[string]received{}}
	rv.srv = httptest.NewServer(http.HandlerFunc(rv.serve))
	return rv
}

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	fail := func(format string, args ...any) {
		rv.errs = append(rv.errs, fmt.Sprintf(format, args...))
		http.Error(w, "refused", http.StatusBadRequest)
	}
	if err != nil {
		fail("reading a delivery: %v", err)
		return
	}
	if rv.secret == "" {
		fail("a delivery before the subscription was made: %s", body)
		return
	}
	if err := signer.Verify(signer.Standard, r.Header, body, rv.secret, time.Now()); err != nil {
		fail("signature of %s: %v", body, err)
		return
	}
	var env struct {
		ID        string          `json:"id"`
		Event     string          `json:"event"`
		Timestamp string          `json:"timestamp"`
		UserID    json.RawMessage `json:"user_id"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.ID == "" || env.Event == "" {
		fail("envelope %s: %v", body, err)
		return
	}
	switch {
	case r.Header.Get("X-Webhook-Event") != env.Event:
		fail("X-Webhook-Event %q for %s", r.Header.Get("X-Webhook-Event"), body)
		return
	case r.Header.Get("X-Webhook-Id") != rv.subID:
		fail("X-Webhook-Id %q, want the subscription %s", r.Header.Get("X-Webhook-Id"), rv.subID)
		return
	case r.Header.Get("X-Webhook-Timestamp") != env.Timestamp:
		fail("X-Webhook-Timestamp %q, body timestamp %q", r.Header.Get("X-Webhook-Timestamp"), env.Timestamp)
		return
	case r.Header.Get("webhook-id") != env.ID:
		fail("webhook-id %q, event id %q", r.Header.Get("webhook-id"), env.ID)
		return
	case !strings.HasPrefix(r.Header.Get("User-Agent"), "caddy-webhooks/"):
		fail("User-Agent %q", r.Header.Get("User-Agent"))
		return
	}
	if prev, ok := rv.byID[env.ID]; ok {
		rv.redone++ // at least once: a retry of a delivery that had arrived
		if prev.raw != string(env.Data) || prev.name != env.Event {
			rv.errs = append(rv.errs, fmt.Sprintf("event %s delivered twice with different contents: %s / %s", env.ID, prev.raw, env.Data))
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var data any
	_ = json.Unmarshal(env.Data, &data)
	rv.byID[env.ID] = received{id: env.ID, name: env.Event, user: string(env.UserID), data: data, raw: string(env.Data)}
	rv.order = append(rv.order, env.ID)
	w.WriteHeader(http.StatusNoContent)
}

// subscribe creates the subscription to every event through the admin API.
func (rv *receiver) subscribe(t *testing.T, admin string) {
	t.Helper()
	body := `{"app_name":"catalogue-test","url":"` + rv.srv.URL + `/hooks","events":["*"],"rate_limit":"1000/s","description":"random traffic"}`
	resp, err := http.Post(admin+"/webhooks/subscriptions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /webhooks/subscriptions: %d %s", resp.StatusCode, b)
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.secret, rv.subID = gjson.GetBytes(b, "secret").String(), gjson.GetBytes(b, "id").String()
	if !strings.HasPrefix(rv.secret, "whsec_") || rv.subID == "" {
		t.Fatalf("subscription: %s", b)
	}
}

func (rv *receiver) count() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.byID)
}

func (rv *receiver) dupes() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.redone
}

func (rv *receiver) problems() []string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return slices.Clone(rv.errs)
}

// events returns the distinct events in the order they arrived.
func (rv *receiver) events() []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make([]received, 0, len(rv.order))
	for _, id := range rv.order {
		out = append(out, rv.byID[id])
	}
	return out
}

type stats struct {
	Events     int64            `json:"events"`
	QueueDepth int64            `json:"queue_depth"`
	Deliveries map[string]int64 `json:"deliveries"`
}

func getStats(t *testing.T, admin string) stats {
	t.Helper()
	var st stats
	resp, err := http.Get(admin + "/webhooks/stats")
	if err != nil {
		t.Errorf("stats: %v", err)
		return st
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Errorf("stats: %v", err)
	}
	return st
}

// logSummary counts the module's warnings in Caddy's JSON log by message
// and reason.
func logSummary(log string) string {
	counts := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		l := gjson.Parse(line)
		if msg := l.Get("msg").String(); msg == "event_skipped" || msg == "state_prefetch_failed" || msg == "state_key_missing" || l.Get("level").String() == "error" {
			counts[msg+"/"+l.Get("reason").String()]++
		}
	}
	if len(counts) == 0 {
		return "no event_skipped, state_prefetch_failed, state_key_missing nor error lines"
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// ---------------------------------------------------------------- comparing

// keyFields are the payload fields that, with the event's name and
// user_id, identify an event in the multisets.
var keyFields = map[string][]string{
	"order.created":        {"orderId"},
	"order.paid":           {"orderId"},
	"order.status_changed": {"orderId", "oldStatus", "newStatus"},
	"order.shipped":        {"orderId"},
	"customer.created":     {"customerId"},
	"customer.updated":     {"customerId", "changedFields"},
	"organisation.created": {"organisation_id"},
	"organisation.updated": {"organisation_id"},
	"organisation.deleted": {"organisation_id"},
	"person.created":       {"person_id"},
	"person.updated":       {"person_id"},
	"person.deleted":       {"person_id"},
	"task.created":         {"task_id"},
	"task.completed":       {"task_id"},
	"mandat.created":       {"mandat_id", "status"},
	"mandat.updated":       {"mandat_id", "status"},
	"mandat.signed":        {"mandat_id"},
	"interaction.created":  {"interaction_id"},
	"interaction.updated":  {"interaction_id"},
}

func eventKey(name, user string, data any) string {
	fields, ok := keyFields[name]
	obj, _ := data.(map[string]any)
	if !ok || obj == nil {
		b, _ := json.Marshal(data)
		return name + " " + user + " " + string(b)
	}
	var b strings.Builder
	b.WriteString(name)
	if user != "" {
		b.WriteString(" user_id=" + user)
	}
	for _, f := range fields {
		v, _ := json.Marshal(obj[f])
		b.WriteString(" " + f + "=" + string(v))
	}
	return b.String()
}

type comparison struct {
	matched int
	fields  int
	missing []string
	extra   []string
	diffs   []string
	byName  string
}

// compare matches expected and received events as multisets by key, then
// checks the payload of each pair field by field.
func compare(exp []expectedEvent, got []received) comparison {
	var m comparison
	expBy := map[string][]expectedEvent{}
	gotBy := map[string][]received{}
	names := map[string][2]int{}
	for _, e := range exp {
		k := eventKey(e.name, e.user, e.data)
		expBy[k] = append(expBy[k], e)
		n := names[e.name]
		n[0]++
		names[e.name] = n
	}
	for _, g := range got {
		k := eventKey(g.name, g.user, g.data)
		gotBy[k] = append(gotBy[k], g)
		n := names[g.name]
		n[1]++
		names[g.name] = n
	}
	keys := map[string]bool{}
	for k := range expBy {
		keys[k] = true
	}
	for k := range gotBy {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		es, gs := expBy[k], gotBy[k]
		// Pair identical payloads first, then the rest in order.
		usedE, usedG := make([]bool, len(es)), make([]bool, len(gs))
		for i, e := range es {
			for j, g := range gs {
				if !usedG[j] && reflect.DeepEqual(e.data, g.data) {
					usedE[i], usedG[j] = true, true
					m.matched++
					m.fields += len(asMap(e.data))
					break
				}
			}
		}
		j := 0
		for i, e := range es {
			if usedE[i] {
				continue
			}
			for j < len(gs) && usedG[j] {
				j++
			}
			if j == len(gs) {
				m.missing = append(m.missing, fmt.Sprintf("%s data %s (after %s)", k, jsonText(e.data), e.why))
				continue
			}
			usedG[j] = true
			m.matched++
			g := gs[j]
			em, gm := asMap(e.data), asMap(g.data)
			m.fields += len(em)
			var diffs []string
			for _, f := range unionKeys(em, gm) {
				if !reflect.DeepEqual(em[f], gm[f]) {
					diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", f, jsonOr(gm, f), jsonOr(em, f)))
				}
			}
			m.diffs = append(m.diffs, fmt.Sprintf("%s (%s; after %s): %s", k, g.id, e.why, strings.Join(diffs, "; ")))
		}
		for j, g := range gs {
			if !usedG[j] {
				m.extra = append(m.extra, fmt.Sprintf("%s %s data %s", k, g.id, g.raw))
			}
		}
	}
	var ns []string
	for n := range names {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("%s %d/%d", n, names[n][0], names[n][1]))
	}
	m.byName = strings.Join(parts, ", ")
	return m
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func unionKeys(a, b map[string]any) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func jsonOr(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return "(absent)"
	}
	return jsonText(v)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
