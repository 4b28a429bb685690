package natsstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// wonBy returns the first subscription ids s0, s1, … that the hashing
// gives to each node of live, n of each.
func wonBy(t *testing.T, live []string, n int) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for i := 0; i < 1000; i++ {
		sub := fmt.Sprintf("s%d", i)
		if w := ownerOf(live, sub); len(got[w]) < n {
			got[w] = append(got[w], sub)
		}
	}
	for _, node := range live {
		if len(got[node]) < n {
			t.Fatalf("the hashing gives %s fewer than %d of 1000 ids", node, n)
		}
	}
	return got
}

// TestOwnersDecide: what a node does with each lease, by the hashing,
// the leases the watch shows and those it holds.
func TestOwnersDecide(t *testing.T) {
	live := []string{"a", "b"}
	w := wonBy(t, live, 2)
	mine, mine2, theirs := w["a"][0], w["a"][1], w["b"][0]
	tests := []struct {
		name   string
		live   []string
		subs   []string
		leases map[string]leaseHolder
		held   map[string]uint64
		want   []leaseAction
	}{
		{name: "free and mine: acquire", subs: []string{mine}, want: []leaseAction{{leaseAcquire, mine, 0}}},
		{name: "free and theirs: nothing", subs: []string{theirs}},
		{name: "held and mine: renew", subs: []string{mine}, leases: map[string]leaseHolder{mine: {"a", 7}}, held: map[string]uint64{mine: 7},
			want: []leaseAction{{leaseRenew, mine, 7}}},
		{name: "held by me before the watch shows it: renew", subs: []string{mine}, held: map[string]uint64{mine: 7},
			want: []leaseAction{{leaseRenew, mine, 7}}},
		{name: "held and theirs: release", subs: []string{theirs}, leases: map[string]leaseHolder{theirs: {"a", 7}}, held: map[string]uint64{theirs: 7},
			want: []leaseAction{{leaseRelease, theirs, 7}}},
		{name: "mine, held by a live node: wait for its release", subs: []string{mine}, leases: map[string]leaseHolder{mine: {"b", 3}}},
		{name: "mine, held by a dead node: take over at its revision", subs: []string{mine}, leases: map[string]leaseHolder{mine: {"c", 3}},
			want: []leaseAction{{leaseTakeOver, mine, 3}}},
		{name: "mine, held by an unreadable lease: take over", subs: []string{mine}, leases: map[string]leaseHolder{mine: {"", 3}},
			want: []leaseAction{{leaseTakeOver, mine, 3}}},
		{name: "mine, held under my name from before: take over", subs: []string{mine}, leases: map[string]leaseHolder{mine: {"a", 3}},
			want: []leaseAction{{leaseTakeOver, mine, 3}}},
		{name: "theirs, held under my name from before: release", subs: []string{theirs}, leases: map[string]leaseHolder{theirs: {"a", 3}},
			want: []leaseAction{{leaseRelease, theirs, 3}}},
		{name: "theirs, held by a dead node: nothing", subs: []string{theirs}, leases: map[string]leaseHolder{theirs: {"c", 3}}},
		{name: "alone, everything is mine", live: []string{"a"}, subs: []string{theirs}, leases: map[string]leaseHolder{theirs: {"b", 3}},
			want: []leaseAction{{leaseTakeOver, theirs, 3}}},
		{name: "a held subscription gone from the list: release", subs: []string{mine}, held: map[string]uint64{mine: 1, mine2: 2},
			want: []leaseAction{{leaseRenew, mine, 1}, {leaseRelease, mine2, 2}}},
		{name: "a lease of mine from before, subscription gone: release", leases: map[string]leaseHolder{mine2: {"a", 2}, theirs: {"b", 4}},
			want: []leaseAction{{leaseRelease, mine2, 2}}},
		{name: "duplicate and empty ids once", subs: []string{mine, "", mine}, want: []leaseAction{{leaseAcquire, mine, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := live
			if tt.live != nil {
				l = tt.live
			}
			got := decide("a", l, tt.subs, tt.leases, tt.held)
			if !slices.Equal(got, tt.want) {
				t.Errorf("decide = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOwnersRendezvous: the hashing spreads subscriptions evenly, and a
// node that joins or leaves moves only its own share.
func TestOwnersRendezvous(t *testing.T) {
	three := []string{"caddy-1", "caddy-2", "caddy-3"}
	four := append(slices.Clone(three), "caddy-4")
	const n = 3000
	count := map[string]int{}
	for i := range n {
		sub := fmt.Sprintf("sub-%d", i)
		w3, w4 := ownerOf(three, sub), ownerOf(four, sub)
		count[w3]++
		if w4 != w3 && w4 != "caddy-4" {
			t.Fatalf("%s moved from %s to %s when caddy-4 joined", sub, w3, w4)
		}
		if w2 := ownerOf(three[1:], sub); w3 != "caddy-1" && w2 != w3 {
			t.Fatalf("%s moved from %s to %s when caddy-1 left", sub, w3, w2)
		}
	}
	for _, node := range three {
		if c := count[node]; c < n*30/100 || c > n*37/100 {
			t.Errorf("%s owns %d of %d, want about a third", node, c, n)
		}
	}
	if ownerOf(nil, "x") != "" {
		t.Error("winner among no nodes is not empty")
	}
}

// TestOwnersKeyToken: any id becomes a valid KV key token, and back.
func TestOwnersKeyToken(t *testing.T) {
	valid := regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`) // nats.go's KV key rule
	for _, id := range []string{"orders", "orders.created", "a b", "crm/*", "x>y", "café", "$SYS", "..."} {
		tok := keyToken(id)
		if !valid.MatchString(leaseKeyPrefix+tok) || slices.Contains([]byte(tok), '.') {
			t.Errorf("keyToken(%q) = %q: not one valid key token", id, tok)
		}
		if back, ok := parseKeyToken(tok); !ok || back != id {
			t.Errorf("parseKeyToken(keyToken(%q)) = %q, %v", id, back, ok)
		}
	}
	if _, ok := parseKeyToken("not base64!"); ok {
		t.Error("parseKeyToken accepted a bad token")
	}
}

// ownersKV is a KV bucket for one node alone, whose writes fail as the test
// says; methods the test does not expect panic (nil embedded interface).
type ownersKV struct {
	jetstream.KeyValue
	mu        sync.Mutex
	rev       uint64
	putErr    error // heartbeats
	updateErr error // renewals
}

func (f *ownersKV) next() uint64 { f.rev++; return f.rev }

func (f *ownersKV) Put(context.Context, string, []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return 0, f.putErr
	}
	return f.next(), nil
}

func (f *ownersKV) Create(context.Context, string, []byte, ...jetstream.KVCreateOpt) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next(), nil
}

func (f *ownersKV) Update(context.Context, string, []byte, uint64) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.updateErr != nil {
		return 0, f.updateErr
	}
	return f.next(), nil
}

func (f *ownersKV) set(put, update error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putErr, f.updateErr = put, update
}

// ownersClock is a settable clock.
type ownersClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *ownersClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *ownersClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestOwnersLeaseRunsOut, with an injected clock: Owns stays true while
// renewals fail only until the lease last renewed is TTL minus the margin
// old; a lease is bounded by the heartbeat too (others take over once it
// expires); a renewal refused for its revision drops the lease at once;
// onChange tells of a gain.
func TestOwnersLeaseRunsOut(t *testing.T) {
	clk := &ownersClock{now: time.Unix(1_700_000_000, 0)}
	cfg := ownersConfig{ttl: 15 * time.Second, renew: 5 * time.Second, scan: time.Second, margin: 3 * time.Second, now: clk.Now}
	kv := &ownersKV{}
	gains := 0
	o := newOwners(cfg, kv, "a", func() []string { return []string{"s"} }, func() { gains++ }, zaptest.NewLogger(t))
	o.apply(nil) // the watch caught up: an empty bucket
	ctx := context.Background()
	step := func(d time.Duration, want bool) {
		t.Helper()
		clk.add(d)
		o.pass(ctx)
		if o.Owns("s") != want {
			t.Fatalf("at +%s: Owns = %v, want %v", clk.Now().Sub(time.Unix(1_700_000_000, 0)), !want, want)
		}
	}

	step(0, true) // heartbeat, acquire
	if gains != 1 {
		t.Fatalf("onChange called %d times on the gain, want 1", gains)
	}
	if o.Owns("other") {
		t.Fatal("owns a subscription it never acquired")
	}
	kv.set(nil, errors.New("timeout"))
	step(5*time.Second, true) // renewal failed: still within 15s - 3s
	step(6*time.Second, true) // +11s
	step(time.Second, false)  // +12s: the lease could expire within the margin
	kv.set(nil, nil)
	step(time.Second, true) // renewed at its revision: nobody took it
	if gains != 1 {
		t.Fatalf("onChange called %d times, want 1 (a renewal is no gain)", gains)
	}

	// The heartbeat fails while renewals succeed: the lease is bounded by
	// the last heartbeat, after which others count this node dead.
	kv.set(errors.New("timeout"), nil)
	step(5*time.Second, true)  // +18s: renewed; the last heartbeat was at +11s
	step(4*time.Second, true)  // +22s
	step(1*time.Second, false) // +23s: the renewal at +18s does not outlive the heartbeat

	// A renewal refused for its revision: another node holds it now.
	kv.set(nil, fmt.Errorf("wrong last sequence: %w", jetstream.ErrKeyRevisionMismatch))
	clk.add(5 * time.Second)
	o.pass(ctx)
	if _, held := o.held["s"]; held || o.Owns("s") {
		t.Fatal("kept a lease whose renewal was refused for its revision")
	}
}

// ownersRig is several nodes' owners on one bucket of a real cluster.
type ownersRig struct {
	t    *testing.T
	kv   jetstream.KeyValue
	cfg  ownersConfig
	subs []string

	mu    sync.Mutex
	nodes map[string]*owners // the running ones and the stalled ones
	gains map[string]int
}

// testOwnersConfig is short enough for tests, long enough for a loaded
// machine.
func testOwnersConfig() ownersConfig {
	return ownersConfig{ttl: 3 * time.Second, renew: 500 * time.Millisecond, scan: 100 * time.Millisecond, margin: time.Second, now: time.Now}
}

func newOwnersRig(t *testing.T, js jetstream.JetStream, bucket string, subs []string) *ownersRig {
	t.Helper()
	cfg := testOwnersConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A cluster just started on a loaded machine may count a server
	// offline for a moment ("no suitable peers for placement"): try
	// again until the bound.
	var kv jetstream.KeyValue
	var err error
	for {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: cfg.ttl, Replicas: 3,
			Storage: jetstream.FileStorage, LimitMarkerTTL: markerTTL})
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "no suitable peers") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &ownersRig{t: t, kv: kv, cfg: cfg, subs: subs, nodes: map[string]*owners{}, gains: map[string]int{}}
}

func (r *ownersRig) start(node string) *owners {
	o := startOwnersWith(context.Background(), r.cfg, r.kv, node, func() []string { return r.subs }, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.gains[node]++
	}, zaptest.NewLogger(r.t, zaptest.Level(zap.InfoLevel)).Named(node))
	r.t.Cleanup(o.Stop)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nodes[node] = o
	return o
}

// snapshot returns, for each subscription, the nodes that own it, read
// twice in a row: a node that answers yes on both reads owned it in
// between, so another yes read between them is two owners at once.
func (r *ownersRig) snapshot() (owners map[string][]string, overlap error) {
	r.mu.Lock()
	names := make([]string, 0, len(r.nodes))
	for n := range r.nodes {
		names = append(names, n)
	}
	nodes := maps.Clone(r.nodes)
	r.mu.Unlock()
	slices.Sort(names)
	owners = map[string][]string{}
	for _, sub := range r.subs {
		reads := make([]bool, 0, 2*len(names))
		for range 2 {
			for _, n := range names {
				reads = append(reads, nodes[n].Owns(sub))
			}
		}
		for i, n := range names {
			if reads[len(names)+i] {
				owners[sub] = append(owners[sub], n)
			}
			if !reads[i] || !reads[len(names)+i] {
				continue
			}
			for j := i + 1; j < len(names)+i; j++ { // the reads between n's two
				if reads[j] {
					overlap = fmt.Errorf("%s owned by %s and %s at once", sub, n, names[j%len(names)])
				}
			}
		}
	}
	return owners, overlap
}

// watchOverlaps checks, until the test ends, that no subscription is ever
// seen with two owners.
func (r *ownersRig) watchOverlaps() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := r.snapshot(); err != nil {
				r.t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	r.t.Cleanup(func() { close(done); <-stopped })
}

// settled waits until each subscription is owned by exactly the node the
// hashing names among live.
func (r *ownersRig) settled(live []string, timeout time.Duration, what string) {
	r.t.Helper()
	testbed.Eventually(r.t, timeout, what, func() bool {
		owners, _ := r.snapshot()
		for _, sub := range r.subs {
			if !slices.Equal(owners[sub], []string{ownerOf(live, sub)}) {
				return false
			}
		}
		return true
	})
}

func ownersSubs(n int) []string {
	subs := []string{"orders.created", "crm/*", "a b>c", "café"}
	for i := len(subs); i < n; i++ {
		subs = append(subs, fmt.Sprintf("sub-%02d", i))
	}
	return subs
}

// TestOwnersCluster, on a three-node NATS cluster, with three nodes'
// owners on one bucket: every subscription has exactly the owner the
// hashing names, never two at once (checked all along); a stopped node's
// subscriptions go to the others at once; a stalled node (no heartbeat,
// no release, its Owns still answering from its last renewals) loses its
// subscriptions only after its leases ran out, within about the TTL; a
// node that joins takes its share without two owners at once.
func TestOwnersCluster(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	nc, err := settings{urls: []string{c.URL()}}.connect(zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("defaults, on the store's bucket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a new cluster's first bucket, on a loaded machine
		defer cancel()
		b, err := settings{prefix: "owners_0", replicas: 3}.ensureBuckets(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		subs := ownersSubs(6)
		o := startOwners(ctx, b.nodes, "solo", func() []string { return subs }, nil, zaptest.NewLogger(t))
		testbed.Eventually(t, 10*time.Second, "a node alone owns every subscription", func() bool {
			for _, sub := range subs {
				if !o.Owns(sub) {
					return false
				}
			}
			return true
		})
		o.Stop()
		if o.Owns(subs[0]) {
			t.Error("owns a subscription after Stop")
		}
		if keys, err := b.nodes.Keys(ctx); !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Errorf("after Stop the bucket holds %v (%v), want no keys", keys, err)
		}
	})

	t.Run("stop, stall, join", func(t *testing.T) {
		r := newOwnersRig(t, js, "owners_1", ownersSubs(24))
		r.watchOverlaps()
		for _, n := range []string{"a", "b", "c"} {
			r.start(n)
		}
		r.settled([]string{"a", "b", "c"}, 20*time.Second, "each subscription owned by its node among a, b, c")
		owners, _ := r.snapshot()
		count := map[string]int{}
		for _, o := range owners {
			count[o[0]]++
		}
		for _, n := range []string{"a", "b", "c"} {
			if count[n] < 3 {
				t.Errorf("%s owns %d of 24: %v", n, count[n], count)
			}
			r.mu.Lock()
			gains := r.gains[n]
			r.mu.Unlock()
			if gains == 0 {
				t.Errorf("onChange never called on %s", n)
			}
		}

		// Stopped: its keys are deleted, the others take over at once
		// (well within the TTL).
		start := time.Now()
		r.nodes["b"].Stop()
		r.settled([]string{"a", "c"}, r.cfg.ttl/2, "b's subscriptions taken over by a and c well within the TTL")
		t.Logf("a stopped node's subscriptions moved in %s", time.Since(start))

		// Stalled: c stops heartbeating and renewing but keeps answering
		// Owns from its leases; a takes over once they ran out.
		c := r.nodes["c"]
		c.halt()
		stalled := time.Now()
		r.settled([]string{"a"}, 4*r.cfg.ttl, "c's subscriptions taken over by a after the TTL")
		took := time.Since(stalled)
		t.Logf("a stalled node's subscriptions moved in %s", took)
		if took < r.cfg.ttl-r.cfg.margin-r.cfg.renew {
			t.Errorf("a stalled node's subscriptions moved after %s, before its leases could run out", took)
		}

		// Joining: d takes its share.
		r.mu.Lock()
		delete(r.nodes, "c")
		r.mu.Unlock()
		r.start("d")
		r.settled([]string{"a", "d"}, 20*time.Second, "d's share moved to d")
	})
}

// watchEntry is a watch entry.
type watchEntry struct {
	jetstream.KeyValueEntry
	key   string
	value string
	rev   uint64
	op    jetstream.KeyValueOp
}

func (e watchEntry) Key() string                     { return e.key }
func (e watchEntry) Value() []byte                   { return []byte(e.value) }
func (e watchEntry) Revision() uint64                { return e.rev }
func (e watchEntry) Operation() jetstream.KeyValueOp { return e.op }

// TestOwnersSuperseded: a lease the watch shows deleted, expired or
// written by another node at a later revision stops counting at once (an
// expiry marker can erase an Update that had succeeded), and the node
// acquires it again if the hashing still names it; its own later writes
// and older news change nothing.
func TestOwnersSuperseded(t *testing.T) {
	kv := &ownersKV{}
	o := newOwners(testOwnersConfig(), kv, "a", func() []string { return []string{"s"} }, nil, zaptest.NewLogger(t))
	o.apply(nil)
	ctx := context.Background()
	o.pass(ctx)
	rev := o.held["s"].rev
	key := leaseKeyPrefix + keyToken("s")
	for _, tt := range []struct {
		e    watchEntry
		owns bool
	}{
		{watchEntry{key: key, value: `{"node":"b"}`, rev: rev - 1}, true},          // older news
		{watchEntry{key: key, value: `{"node":"a"}`, rev: rev}, true},              // its own write
		{watchEntry{key: key, rev: rev + 1, op: jetstream.KeyValuePurge}, false},   // expired under it
		{watchEntry{key: key, value: `{"node":"b"}`, rev: rev + 10}, false},        // another node's
		{watchEntry{key: key, rev: rev + 20, op: jetstream.KeyValueDelete}, false}, // deleted
	} {
		o.apply(tt.e)
		if got := o.Owns("s"); got != tt.owns {
			t.Fatalf("after %+v: Owns = %v, want %v", tt.e, got, tt.owns)
		}
		if !tt.owns {
			o.publish()
			if _, held := o.held["s"]; held {
				t.Fatalf("after %+v: still holds the lease", tt.e)
			}
			kv.rev = tt.e.rev + 1 // the bucket's next revision
			o.apply(watchEntry{key: key, rev: tt.e.rev, op: jetstream.KeyValueDelete})
			o.pass(ctx)
			if !o.Owns("s") {
				t.Fatalf("after %+v: did not acquire the lease again", tt.e)
			}
		}
	}
}

// TestOwnersDefaults: the default timing fits the P_nodes bucket: leases
// are renewed several times per TTL and Owns turns false before the
// bucket's TTL can expire them.
func TestOwnersDefaults(t *testing.T) {
	cfg := defaultOwnersConfig()
	var nodesTTL time.Duration
	for _, b := range (settings{prefix: "webhooks"}).bucketConfigs() {
		if b.Bucket == "webhooks_nodes" {
			nodesTTL = b.TTL
		}
	}
	if cfg.ttl != nodesTTL || nodesTTL == 0 {
		t.Errorf("owners' TTL %s, the nodes bucket's %s: want equal", cfg.ttl, nodesTTL)
	}
	if cfg.renew*2 > cfg.ttl-cfg.margin || cfg.margin <= 0 || cfg.scan > cfg.renew {
		t.Errorf("renew %s, margin %s, scan %s: a lease must survive a missed renewal and expire in Owns before the TTL %s",
			cfg.renew, cfg.margin, cfg.scan, cfg.ttl)
	}
}
