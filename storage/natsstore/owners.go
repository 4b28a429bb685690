package natsstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Subscription ownership (design: "Ownership, fairness and rate limits").
// Each node heartbeats n.<node> in the P_nodes bucket; the owner of a
// subscription is the live node with the highest ownerScore(node, sub), and it
// holds the lease o.<sub>, written only by compare-and-set, so that one
// node at a time claims a subscription's deliveries.

// ownersConfig is the timing of ownership; tests shorten it.
type ownersConfig struct {
	ttl    time.Duration    // the P_nodes bucket's TTL: a heartbeat or lease not renewed for this long expires
	renew  time.Duration    // how often the heartbeat and the held leases are renewed
	scan   time.Duration    // how often owners are recomputed when no change in the bucket wakes the loop
	margin time.Duration    // Owns turns false this long before a lease could expire on the servers
	now    func() time.Time // the clock
}

func defaultOwnersConfig() ownersConfig {
	return ownersConfig{ttl: heartbeatTTL, renew: heartbeatTTL / 3, scan: time.Second, margin: heartbeatTTL / 5, now: time.Now}
}

// Keys of the P_nodes bucket.
const (
	heartbeatKeyPrefix = "n."
	leaseKeyPrefix     = "o."
)

// leaseWriters is how many lease writes a pass has in flight at once.
const leaseWriters = 16

// keyToken encodes an id (a subscription's, a node's) as a KV key token:
// unpadded base64url, so any id fits a subject.
func keyToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// parseKeyToken decodes a keyToken.
func parseKeyToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil && len(b) > 0
}

// leaseValue is the value of o.<sub>.
type leaseValue struct {
	Node string `json:"node"`
}

// leaseHolder is a lease as the watch shows it.
type leaseHolder struct {
	node string
	rev  uint64
}

// ownerScore is the rendezvous hash of a node and a subscription: FNV-1a mixed
// by the SplitMix64 finalizer, so close names spread evenly.
func ownerScore(node, sub string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(sub))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// ownerOf is the node among live that should own sub ("" when none is
// live); a tie goes to the greater name, so every node picks the same.
func ownerOf(live []string, sub string) string {
	best, bestScore := "", uint64(0)
	for _, n := range live {
		s := ownerScore(n, sub)
		if best == "" || s > bestScore || s == bestScore && n > best {
			best, bestScore = n, s
		}
	}
	return best
}

// leaseStep is what a node does with one lease.
type leaseStep int

const (
	leaseAcquire  leaseStep = iota + 1 // Create o.<sub>: it is free
	leaseTakeOver                      // Update o.<sub> at rev: its holder is dead, or is this node from before
	leaseRenew                         // Update o.<sub> at rev: this node holds it
	leaseRelease                       // Delete o.<sub> at rev: the hashing names another node
)

type leaseAction struct {
	step leaseStep
	sub  string
	rev  uint64
}

// decide returns what self does with the leases, given the live nodes
// (self among them), the subscriptions, the leases the watch shows and
// those self holds (sub → revision). A lease held by another live node is
// left alone: that node releases it when it sees the hashing name self.
// Pure, so every case has a table test.
func decide(self string, live, subs []string, leases map[string]leaseHolder, held map[string]uint64) []leaseAction {
	var acts []leaseAction
	wanted := make(map[string]bool, len(subs))
	for _, sub := range subs {
		if sub == "" || wanted[sub] {
			continue
		}
		wanted[sub] = true
		rev, holds := held[sub]
		seen, taken := leases[sub]
		switch {
		case ownerOf(live, sub) != self:
			if holds {
				acts = append(acts, leaseAction{leaseRelease, sub, rev})
			} else if taken && seen.node == self {
				acts = append(acts, leaseAction{leaseRelease, sub, seen.rev})
			}
		case holds:
			acts = append(acts, leaseAction{leaseRenew, sub, rev})
		case !taken:
			acts = append(acts, leaseAction{leaseAcquire, sub, 0})
		case seen.node == self || !slices.Contains(live, seen.node):
			acts = append(acts, leaseAction{leaseTakeOver, sub, seen.rev})
		}
	}
	for sub, rev := range held {
		if !wanted[sub] {
			acts = append(acts, leaseAction{leaseRelease, sub, rev})
		}
	}
	for sub, seen := range leases {
		if _, holds := held[sub]; !wanted[sub] && !holds && seen.node == self {
			acts = append(acts, leaseAction{leaseRelease, sub, seen.rev})
		}
	}
	slices.SortFunc(acts, func(a, b leaseAction) int { return cmp.Compare(a.sub, b.sub) })
	return acts
}

// heldLease is one this node holds.
type heldLease struct {
	rev       uint64
	renewedAt time.Time // when the write that got rev was sent
	until     time.Time // when Owns turns false unless it is renewed
}

// owners keeps this node's heartbeat and its subscription leases.
type owners struct {
	cfg      ownersConfig
	kv       jetstream.KeyValue
	node     string
	subs     func() []string
	onChange func()
	logger   *zap.Logger

	owned atomic.Pointer[map[string]heldLease] // what Owns reads, replaced under mu

	mu         sync.Mutex             // guards the fields below it, written by the watch
	ready      bool                   // the watch has delivered the bucket's content
	nodes      map[string]time.Time   // live node → when its heartbeat was last seen
	leases     map[string]leaseHolder // sub → its lease
	superseded map[string]uint64      // sub → the last revision of o.<sub> that is not a lease of this node

	kick   chan struct{} // the watch saw a change that may move ownership
	cancel context.CancelFunc
	done   sync.WaitGroup
	stop   sync.Once

	// The loop's own state.
	held        map[string]heldLease
	heartbeatAt time.Time // when the last heartbeat that succeeded was sent
}

// startOwners starts the heartbeat of node in kv (the P_nodes bucket) and
// the upkeep of its leases on the subscriptions subs returns (called at
// every scan, so it must answer from memory); onChange is called when the
// node gains a subscription, and must not block. The work goes on until
// Stop, whatever becomes of ctx (its values are kept).
func startOwners(ctx context.Context, kv jetstream.KeyValue, node string, subs func() []string, onChange func(), logger *zap.Logger) *owners {
	return startOwnersWith(ctx, defaultOwnersConfig(), kv, node, subs, onChange, logger)
}

func startOwnersWith(ctx context.Context, cfg ownersConfig, kv jetstream.KeyValue, node string, subs func() []string, onChange func(), logger *zap.Logger) *owners {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	o := newOwners(cfg, kv, node, subs, onChange, logger)
	o.cancel = cancel
	o.done.Add(2)
	go o.watch(ctx)
	go o.loop(ctx)
	return o
}

// newOwners returns owners that do nothing until started.
func newOwners(cfg ownersConfig, kv jetstream.KeyValue, node string, subs func() []string, onChange func(), logger *zap.Logger) *owners {
	o := &owners{
		cfg: cfg, kv: kv, node: node, subs: subs, onChange: onChange, logger: logger.Named("owners"),
		nodes: map[string]time.Time{}, leases: map[string]leaseHolder{}, superseded: map[string]uint64{},
		kick: make(chan struct{}, 1), cancel: func() {}, held: map[string]heldLease{},
	}
	o.owned.Store(&map[string]heldLease{})
	return o
}

// Owns reports whether this node owns subID now: it holds the lease and
// renewed it (and its heartbeat) less than the TTL minus the margin ago.
func (o *owners) Owns(subID string) bool {
	l, ok := (*o.owned.Load())[subID]
	return ok && o.cfg.now().Before(l.until)
}

// settleWait bounds how long settle waits for this node to take a
// subscription the hashing names it the owner of.
const settleWait = 2 * time.Second

// settle is Owns for a claim: when this node should own subID and nobody
// holds its lease yet (a subscription just made, or just found), it asks
// for a pass at once and waits, at most settleWait or until ctx is done,
// for the lease, so that the first deliveries of a new subscription go out
// without waiting for the next scan (right after Open, it first waits for
// the view of the bucket). A subscription that another node should own,
// or holds, is answered at once.
func (o *owners) settle(ctx context.Context, subID string) bool {
	if o.Owns(subID) {
		return true
	}
	t := time.NewTimer(settleWait)
	defer t.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		live, leases, ready := o.view(o.cfg.now())
		switch l, taken := leases[subID]; {
		case !ready: // the view of the bucket is not in yet (just opened)
		case ownerOf(live, subID) != o.node:
			return false
		case taken && l.node != o.node && slices.Contains(live, l.node):
			return false // its holder releases it when it sees the hashing name this node
		default:
			o.wake()
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case <-tick.C:
		}
		if o.Owns(subID) {
			return true
		}
	}
}

// Stop stops the upkeep, then deletes the heartbeat and the leases (best
// effort: what is not deleted expires after the TTL).
func (o *owners) Stop() {
	o.stop.Do(func() {
		o.halt()
		o.owned.Store(&map[string]heldLease{})
		ctx, cancel := context.WithTimeout(context.Background(), o.cfg.margin)
		defer cancel()
		if err := o.kv.Delete(ctx, heartbeatKeyPrefix+keyToken(o.node)); err != nil {
			o.logger.Debug("deleting the heartbeat", zap.Error(err))
		}
		acts := make([]leaseAction, 0, len(o.held))
		for sub, l := range o.held {
			acts = append(acts, leaseAction{leaseRelease, sub, l.rev})
		}
		o.write(ctx, acts)
	})
}

// halt stops the heartbeat and the renewals; the keys stay until they
// expire, and Owns answers until the leases it last renewed run out, as
// when the node stalls.
func (o *owners) halt() {
	o.cancel()
	o.done.Wait()
}

// watch keeps the view of the bucket (live nodes and leases) and wakes
// the loop when a node comes or goes or a lease is freed. It watches again
// if the watch ends (the connection closed).
func (o *owners) watch(ctx context.Context) {
	defer o.done.Done()
	for ctx.Err() == nil {
		w, err := o.kv.WatchAll(ctx)
		if err != nil {
			if ctx.Err() == nil { // not stopping
				o.logger.Warn("watching the nodes bucket", zap.Error(err))
			}
		} else {
			o.follow(ctx, w)
			_ = w.Stop()
		}
		// The next watch starts from the bucket's content again; what was
		// superseded stays so (revisions only grow).
		o.mu.Lock()
		o.ready, o.nodes, o.leases = false, map[string]time.Time{}, map[string]leaseHolder{}
		o.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(o.cfg.scan):
		}
	}
}

// follow applies a watch's entries until it or ctx ends.
func (o *owners) follow(ctx context.Context, w jetstream.KeyWatcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if o.apply(e) {
				o.wake()
			}
		}
	}
}

// apply records one watch entry (nil: the initial content is all in) and
// says whether ownership may move.
func (o *owners) apply(e jetstream.KeyValueEntry) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e == nil {
		o.ready = true
		return true
	}
	gone := e.Operation() != jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(e.Key(), heartbeatKeyPrefix):
		node, ok := parseKeyToken(strings.TrimPrefix(e.Key(), heartbeatKeyPrefix))
		if !ok {
			return false
		}
		_, known := o.nodes[node]
		if gone {
			delete(o.nodes, node)
			return known
		}
		o.nodes[node] = o.cfg.now()
		return !known
	case strings.HasPrefix(e.Key(), leaseKeyPrefix):
		sub, ok := parseKeyToken(strings.TrimPrefix(e.Key(), leaseKeyPrefix))
		if !ok {
			return false
		}
		var v leaseValue
		if gone {
			delete(o.leases, sub)
		} else {
			_ = json.Unmarshal(e.Value(), &v) // unreadable: no holder, so a dead one
			o.leases[sub] = leaseHolder{node: v.Node, rev: e.Revision()}
		}
		if gone || v.Node != o.node {
			o.supersede(sub, e.Revision())
		}
		return gone
	}
	return false
}

// supersede records that o.<sub> at rev is not this node's lease: a lease
// it holds at an older revision is gone, and Owns turns false at once. A
// write made by compare-and-set can still be undone without one: when a
// key expires, the server writes its marker (a rollup) unconditionally,
// so an Update that lands just before the marker is erased by it. Called
// with mu held.
func (o *owners) supersede(sub string, rev uint64) {
	o.superseded[sub] = max(o.superseded[sub], rev)
	owned := *o.owned.Load()
	if l, ok := owned[sub]; ok && l.rev < rev {
		m := maps.Clone(owned)
		delete(m, sub)
		o.owned.Store(&m)
		o.logger.Debug("a subscription's lease was superseded", zap.String("subscription", sub), zap.Uint64("revision", rev))
	}
}

func (o *owners) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// loop heartbeats and keeps the leases, at every scan and whenever the
// watch sees a change.
func (o *owners) loop(ctx context.Context) {
	defer o.done.Done()
	t := time.NewTicker(o.cfg.scan)
	defer t.Stop()
	for {
		o.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
		}
	}
}

// pass renews the heartbeat when due, then acts on decide's plan: the
// releases first (Owns turns false before the delete is sent), then the
// acquisitions and the renewals that are due. Until the watch has caught
// up with the bucket, it only renews.
func (o *owners) pass(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.ttl/2)
	defer cancel()
	now := o.cfg.now()
	if now.Sub(o.heartbeatAt) >= o.cfg.renew {
		if _, err := o.kv.Put(ctx, heartbeatKeyPrefix+keyToken(o.node), []byte(o.node)); err != nil {
			if ctx.Err() == nil { // not stopping
				o.logger.Warn("heartbeat", zap.Error(err))
			}
		} else {
			o.heartbeatAt = now
		}
	}
	if !now.Before(o.heartbeatAt.Add(o.cfg.ttl - o.cfg.margin)) {
		return // others may count this node dead: it takes nothing until its heartbeat is back
	}
	held := make(map[string]uint64, len(o.held))
	plan := make([]leaseAction, 0, len(o.held))
	for sub, l := range o.held {
		held[sub] = l.rev
		plan = append(plan, leaseAction{leaseRenew, sub, l.rev})
	}
	if live, leases, ready := o.view(now); ready {
		plan = decide(o.node, live, o.subs(), leases, held)
	}
	acts := plan[:0]
	for _, a := range plan {
		switch {
		case a.step == leaseRelease:
			delete(o.held, a.sub)
		case a.step == leaseRenew && now.Sub(o.held[a.sub].renewedAt) < o.cfg.renew:
			continue
		}
		acts = append(acts, a)
	}
	o.publish()
	gained := o.write(ctx, acts)
	o.publish()
	if gained && o.onChange != nil {
		o.onChange()
	}
}

// view returns the live nodes (self first), the leases and whether the
// watch has caught up. A node is live from its heartbeat until the
// heartbeat is deleted or expires; twice the TTL without news of it also
// counts as dead, should an expiry go unseen.
func (o *owners) view(now time.Time) ([]string, map[string]leaseHolder, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	live := []string{o.node}
	for n, seen := range o.nodes {
		if n != o.node && now.Sub(seen) < 2*o.cfg.ttl {
			live = append(live, n)
		}
	}
	return live, maps.Clone(o.leases), o.ready
}

// write sends the lease writes of acts, a few at a time, records what
// they hold and says whether a subscription was gained.
func (o *owners) write(ctx context.Context, acts []leaseAction) bool {
	var (
		mu     sync.Mutex
		gained bool
		wg     sync.WaitGroup
		slots  = make(chan struct{}, leaseWriters)
	)
	value, _ := json.Marshal(leaseValue{Node: o.node})
	for _, a := range acts {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			sent := o.cfg.now()
			rev, err := o.send(ctx, a, value)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case a.step == leaseRelease:
				if err != nil {
					o.logger.Debug("releasing a subscription", zap.String("subscription", a.sub), zap.Error(err))
				}
			case err == nil:
				gained = gained || a.step != leaseRenew
				o.held[a.sub] = heldLease{rev: rev, renewedAt: sent, until: earliest(sent, o.heartbeatAt).Add(o.cfg.ttl - o.cfg.margin)}
			case a.step == leaseRenew && errors.Is(err, jetstream.ErrKeyRevisionMismatch):
				delete(o.held, a.sub) // another node took it, or it expired: the watch will tell
				o.logger.Warn("lost a subscription's lease", zap.String("subscription", a.sub), zap.Error(err))
			case a.step == leaseRenew:
				o.logger.Warn("renewing a subscription's lease", zap.String("subscription", a.sub), zap.Error(err))
			}
		})
	}
	wg.Wait()
	return gained
}

// send does one lease write.
func (o *owners) send(ctx context.Context, a leaseAction, value []byte) (uint64, error) {
	key := leaseKeyPrefix + keyToken(a.sub)
	switch a.step {
	case leaseAcquire:
		return o.kv.Create(ctx, key, value)
	case leaseRelease:
		return 0, o.kv.Delete(ctx, key, jetstream.LastRevision(a.rev))
	default:
		return o.kv.Update(ctx, key, value, a.rev)
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// publish makes the held leases what Owns answers from, less those the
// watch saw superseded.
func (o *owners) publish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]heldLease, len(o.held))
	for sub, l := range o.held {
		if o.superseded[sub] > l.rev {
			delete(o.held, sub)
			continue
		}
		m[sub] = l
	}
	o.owned.Store(&m)
}
