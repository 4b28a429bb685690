// Package delivery sends the stored deliveries to their subscribers:
// signed HTTP POSTs through go-retryablehttp, on a persisted retry
// schedule, within per-subscription rate limits, pausing subscriptions that
// keep failing.
package delivery

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Settings are the app's delivery settings (docs/configuration.md, global options).
type Settings struct {
	Retry               []time.Duration
	Timeout             time.Duration
	RateLimit           string // default per subscription, like 100/m
	DisableAfter        int
	AllowPrivateTargets bool
	Workers             int
	// Proxy is the forward proxy of deliveries: a URL, ProxyOff, or ""
	// for the environment's (proxy.go).
	Proxy string
	// Tracer, when set, makes each attempt a span (tracing.go).
	Tracer trace.Tracer
}

// heldBack is how long a delivery of a paused subscription waits before it
// is looked at again.
const heldBack = time.Minute

// idleEvery is how often the rate-limit windows of subscriptions that
// have not sent for a period are dropped.
const idleEvery = 30 * time.Second

// depthEvery is how often the queue_depth gauge is refreshed.
const depthEvery = 2 * time.Second

// leaseMargin is how long past its timeout a claimed delivery stays
// leased: enough to record the attempt's result, even on a store that
// takes seconds for a write now and then (a cluster electing a leader).
// A delivery whose process died during the attempt goes out again after
// timeout + leaseMargin.
const leaseMargin = 10 * time.Second

// pollEvery bounds how long the dispatcher sleeps without looking at the
// queue (a wake-up comes sooner when deliveries are added).
const pollEvery = time.Second

// Dispatcher runs the workers of one store. There is one per store for the
// whole process: config reloads change its settings, not its workers.
type Dispatcher struct {
	store  Queue
	logger atomic.Pointer[zap.Logger]
	now    func() time.Time // time.Now; a test's clock

	cfg atomic.Pointer[config]

	// Loop only:
	depthAt time.Time // when the queue_depth gauge was last set
	idleAt  time.Time // when idle rate-limit windows were last dropped
	turn    int       // which subscription is scanned first

	mu       sync.Mutex
	inflight map[string]int     // claimed or in-flight deliveries per subscription
	busy     int                // the sum of inflight
	claimed  map[string]int     // claimed and not yet past the rate check, per subscription
	windows  map[string]*window // rate limits per subscription (ratelimit.go)
	paces    map[string]*pace   // recent attempts per subscription (share.go)
	workers  int
	stopped  bool
	// Hand-off at commit (handoff.go): clear says a subscription had
	// nothing left to claim at its last scan, and no delivery made due
	// since (dirty counts those), so its new deliveries may be handed
	// over; handed are those Take could not give a worker at once, excess
	// those it had no room for.
	clear  map[string]bool
	dirty  map[string]uint64
	handed []webhook.Claim
	excess []webhook.Claim

	stats statsBook

	work    chan webhook.Claim
	done    chan struct{} // a worker finished an attempt
	handedC chan struct{} // Take left claims for the loop
	stop    chan struct{}
	loopWG  sync.WaitGroup
	workWG  sync.WaitGroup
	// ctx bounds the attempts and the store calls; Stop cancels it once
	// the workers are done.
	ctx    context.Context
	cancel context.CancelFunc
}

// config is Settings with what is derived from them.
type config struct {
	Settings
	sender *sender
}

// New returns a dispatcher for store; Configure starts it.
func New(store Queue) *Dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{
		store: store, now: time.Now,
		inflight: map[string]int{}, claimed: map[string]int{}, windows: map[string]*window{}, paces: map[string]*pace{},
		clear: map[string]bool{}, dirty: map[string]uint64{},
		stats: statsBook{pending: map[string]*statDelta{}},
		work:  make(chan webhook.Claim), done: make(chan struct{}, 1), handedC: make(chan struct{}, 1), stop: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}
}

// Configure applies settings and the config's logger (at start and on
// every reload) and makes sure at least s.Workers workers run.
func (d *Dispatcher) Configure(s Settings, logger *zap.Logger) {
	d.logger.Store(logger)
	if s.Workers < 1 {
		s.Workers = 1
	}
	if len(s.Retry) == 0 {
		s.Retry = []time.Duration{time.Minute}
	}
	d.cfg.Store(&config{Settings: s, sender: newSender(s)})
	d.mu.Lock()
	first := d.workers == 0
	for ; d.workers < s.Workers; d.workers++ {
		d.workWG.Add(1)
		go d.worker()
	}
	d.mu.Unlock()
	if first {
		logger.Info("delivery workers started", zap.Int("workers", s.Workers))
		d.loopWG.Add(2)
		go d.loop()
		go d.flushLoop()
		if h, ok := d.store.(handOffStore); ok {
			h.SetTaker(d)
		}
	}
}

// Stop ends the dispatcher: no new attempt starts, attempts in flight
// finish (each is bounded by the timeout), and deliveries claimed but not
// yet attempted go back to the queue, due at once.
func (d *Dispatcher) Stop() {
	if h, ok := d.store.(handOffStore); ok {
		h.SetTaker(nil)
	}
	d.mu.Lock()
	d.stopped = true // Take sends to no worker from now on
	d.mu.Unlock()
	close(d.stop)
	d.loopWG.Wait()
	d.mu.Lock()
	handed, excess := d.handed, d.excess
	d.handed, d.excess = nil, nil
	d.mu.Unlock()
	for _, c := range handed {
		d.release(c)
	}
	d.putBack(d.ctx, excess)
	close(d.work)
	d.workWG.Wait()
	d.flushStats()
	d.cancel()
}

func (d *Dispatcher) log() *zap.Logger { return d.logger.Load() }

// loop claims due deliveries and hands them to the workers. A worker's
// done signal claims for the subscriptions known to have deliveries left
// only; the timer and the store's wake-ups scan every subscription.
func (d *Dispatcher) loop() {
	defer d.loopWG.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var fireAt time.Time // when the timer fires
	for {
		full := true
		select {
		case <-d.stop:
			return
		case <-timer.C:
		case <-d.store.Wake():
		case <-d.done:
			full = false
		case <-d.handedC:
			if !d.takeHanded() {
				return
			}
			continue
		}
		wait := d.dispatchFor(full)
		at := time.Now().Add(wait)
		if !full && !at.Before(fireAt) {
			continue // the timer runs on toward the next full round
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		fireAt = at
	}
}

// dispatchFor hands out what is due, for every active subscription (full)
// or for those with deliveries left at their last scan, and returns how
// long to sleep.
func (d *Dispatcher) dispatchFor(full bool) time.Duration {
	cfg := d.cfg.Load()
	now := d.now()
	// Claims and results are writes: while the store refuses them (its
	// disk is short of space) nothing is sent, and the queue waits.
	if d.store.Health().Degraded() {
		return pollEvery
	}
	d.housekeeping(now)
	free, wants, next := d.wants(cfg, now.Add(pollEvery), full)
	if free <= 0 || len(wants) == 0 {
		return max(next.Sub(d.now()), 0)
	}
	lease := cfg.Timeout + leaseMargin
	dirty := d.dirtyOf(wants)
	claims, due, err := d.store.Claim(d.ctx, now, lease, free, wants)
	if err != nil {
		d.log().Error("claiming due deliveries", zap.Error(err))
		return pollEvery
	}
	d.scanned(wants, claims, free, dirty)
	if !due.IsZero() && due.Before(next) {
		next = due
	}
	if !d.hand(claims) {
		return pollEvery
	}
	return max(next.Sub(d.now()), 0)
}

// housekeeping drops idle rate-limit windows and paces, and refreshes the
// queue_depth gauge, each now and then.
func (d *Dispatcher) housekeeping(now time.Time) {
	if now.Sub(d.idleAt) > idleEvery {
		d.idleAt = now
		d.dropIdleWindows()
		d.dropIdlePaces()
		d.forgetInactive(d.store.ActiveSubscriptions())
	}
	if now.Sub(d.depthAt) > depthEvery { // counting the due index costs O(queue)
		d.depthAt = now
		queueDepth.Set(float64(d.store.QueueDepth()))
	}
}

// wants returns how many workers are free and how many deliveries each
// active subscription may have claimed now (within its share of the
// workers and its rate limit), and moves next earlier to when a
// subscription over its rate has room again.
func (d *Dispatcher) wants(cfg *config, next time.Time, full bool) (int, []webhook.Want, time.Time) {
	subs := d.store.ActiveSubscriptions()
	now := d.now()
	d.mu.Lock()
	free := d.workers - d.busy
	d.mu.Unlock()
	// Start at another subscription each time, so that when workers are
	// short every subscription gets its turn.
	d.turn++
	var wants []webhook.Want
	for i := range subs {
		sub := subs[(d.turn+i)%len(subs)]
		d.mu.Lock()
		want := d.shareLocked(sub.ID, now) - d.inflight[sub.ID]
		skip := !full && d.clear[sub.ID]
		d.mu.Unlock()
		if skip {
			continue // nothing was left at its last scan
		}
		if want <= 0 {
			continue // a worker's done signal comes when it has room again
		}
		if room, at, limited := d.rateRoom(sub, cfg.RateLimit); limited {
			// Over its rate, its deliveries stay where they are until
			// the window has room, rather than being claimed only to
			// wait; under it, claim what the window allows now.
			if room <= 0 {
				if !at.IsZero() && at.Before(next) {
					next = at
				}
				continue
			}
			want = min(want, room)
		}
		wants = append(wants, webhook.Want{SubID: sub.ID, Max: want})
	}
	return free, wants, next
}

// hand gives the claims to the workers; false if the dispatcher stopped
// meanwhile (the rest are put back).
func (d *Dispatcher) hand(claims []webhook.Claim) bool {
	now := d.now()
	d.mu.Lock()
	for _, c := range claims {
		d.countLocked(c, now)
	}
	d.mu.Unlock()
	for i, c := range claims {
		select {
		case d.work <- c:
		case <-d.stop:
			for _, rest := range claims[i:] {
				d.release(rest)
			}
			return false
		}
	}
	return true
}

// release puts a claimed delivery back, due now.
func (d *Dispatcher) release(c webhook.Claim) {
	defer d.finished(c)
	d.unclaim(c.Sub.ID)
	if err := d.dueNow(d.ctx, c.Delivery.ID); err != nil {
		d.log().Error("releasing a claimed delivery", zap.String("delivery", c.Delivery.ID), zap.Error(err))
	}
}

// dueNow makes a pending delivery due now.
func (d *Dispatcher) dueNow(ctx context.Context, id string) error {
	now := d.now().UTC()
	_, err := d.store.UpdateDelivery(ctx, id, func(dl *webhook.Delivery) error {
		if dl.Status == webhook.Pending {
			dl.NextAttemptAt = &now
		}
		return nil
	})
	return err
}

// dirtyOf returns how many deliveries of each wanted subscription were
// made due without being handed over so far (see scanned).
func (d *Dispatcher) dirtyOf(wants []webhook.Want) map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(wants))
	for _, w := range wants {
		out[w.SubID] = d.dirty[w.SubID]
	}
	return out
}

// scanned notes which subscriptions a claim left with deliveries due: one
// that got all it wanted may have more; one that got less while the
// budget lasted has none left, unless a delivery was made due since the
// scan began (dirty moved).
func (d *Dispatcher) scanned(wants []webhook.Want, claims []webhook.Claim, budget int, dirty map[string]uint64) {
	got := map[string]int{}
	for _, c := range claims {
		got[c.Sub.ID]++
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range wants {
		switch {
		case got[w.SubID] >= w.Max:
			d.clear[w.SubID] = false
		case len(claims) < budget && d.dirty[w.SubID] == dirty[w.SubID]:
			d.clear[w.SubID] = true
		}
	}
}

func (d *Dispatcher) finished(c webhook.Claim) {
	subID := c.Sub.ID
	d.mu.Lock()
	d.busy--
	if d.inflight[subID]--; d.inflight[subID] <= 0 {
		delete(d.inflight, subID)
	}
	if p := d.paces[subID]; p != nil {
		delete(p.since, c.Delivery.ID)
	}
	d.mu.Unlock()
	select {
	case d.done <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) worker() {
	defer d.workWG.Done()
	for c := range d.work {
		d.attempt(c)
		d.finished(c)
	}
}

// attempt sends one claimed delivery, or puts it back for later when its
// subscription is paused or over its rate.
func (d *Dispatcher) attempt(c webhook.Claim) {
	cfg := d.cfg.Load()
	now := d.now()
	if !c.Sub.IsActive {
		d.unclaim(c.Sub.ID)
		d.reschedule(c, now.Add(heldBack), cfg)
		return
	}
	if ok, at := d.beginSend(c.Sub, cfg.RateLimit); !ok {
		// The excess waits in the queue, with no attempt counted; a
		// window full of sends in flight has room when one ends.
		if at.Before(now) {
			at = now
		}
		d.reschedule(c, at, cfg)
		return
	}
	ctx, cancel := context.WithTimeout(d.ctx, cfg.Timeout)
	n := c.Delivery.NextAttemptNumber()
	began := d.now()
	res := cfg.sender.send(ctx, c.Sub, c.Event, n)
	cancel()
	d.paced(c.Sub.ID, res.outcome == Delivered && d.now().Sub(began) < fastAttempt)
	d.endSend(c.Sub.ID) // a retry is a send like any other
	d.record(c, res, cfg)
}

// reschedule moves a claimed delivery's due time without an attempt.
func (d *Dispatcher) reschedule(c webhook.Claim, at time.Time, cfg *config) {
	at = at.UTC()
	_, err := d.store.UpdateDelivery(d.ctx, c.Delivery.ID, func(dl *webhook.Delivery) error {
		if dl.Status == webhook.Pending {
			dl.NextAttemptAt = &at
		}
		return nil
	})
	if err != nil {
		d.log().Error("rescheduling a delivery", zap.String("delivery", c.Delivery.ID), zap.Error(err))
	}
}

// record stores an attempt and the delivery's next state, and notes its
// effect on the subscription's stats (see statsBook).
func (d *Dispatcher) record(c webhook.Claim, res result, cfg *config) {
	now := d.now().UTC()
	var outcome Outcome
	dl, err := d.store.UpdateDelivery(d.ctx, c.Delivery.ID, func(dl *webhook.Delivery) error {
		dl.Attempts = append(dl.Attempts, res.attempt)
		dl.UpdatedAt = now
		outcome = res.outcome
		if dl.Status != webhook.Pending { // cancelled meanwhile: keep the record of the attempt only
			outcome = moot
			return nil
		}
		if outcome == Retry && dl.TriesInRun() > len(cfg.Retry) {
			outcome = Fail // out of attempts: a dead letter
		}
		switch outcome {
		case Delivered:
			dl.Status, dl.NextAttemptAt = webhook.Succeeded, nil
		case Retry:
			next := now.Add(cfg.sender.client.Backoff(0, 0, dl.TriesInRun(), res.resp))
			dl.NextAttemptAt = &next
		default:
			dl.Status, dl.NextAttemptAt = webhook.Failed, nil
		}
		return nil
	})
	if err != nil {
		d.log().Error("recording a delivery attempt", zap.String("delivery", c.Delivery.ID), zap.Error(err))
		return
	}
	if outcome != moot {
		d.stats.note(c.Sub.ID, outcome, res.attempt.Error, now)
	}
	if outcome == Gone {
		// Pause now, not at the next periodic write: until then its next
		// deliveries would go out and fail on a 410 too, instead of
		// waiting for a resume as a paused subscription's do.
		d.flushStats()
	}
	d.observe(c, dl, res, outcome == Fail || outcome == Gone)
}

// observe logs and counts an attempt. The log line's fields are built only
// when its level is enabled: at a drain of thousands a second they were
// garbage the heap grew for, under a logger that drops them.
func (d *Dispatcher) observe(c webhook.Claim, dl *webhook.Delivery, res result, final bool) {
	deliveryDuration.Observe(float64(res.attempt.DurationMs) / 1000)
	switch {
	case res.outcome == Delivered:
		deliveries.WithLabelValues("delivered").Inc()
	case final:
		deliveries.WithLabelValues("failed").Inc()
	default:
		deliveries.WithLabelValues("retried").Inc()
	}
	level, msg := zapcore.WarnLevel, "webhook_http_error"
	switch {
	case res.outcome == Delivered:
		level, msg = zapcore.InfoLevel, "webhook_delivered"
	case res.timeout:
		msg = "webhook_timeout"
	}
	ce := d.log().Check(level, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("subscription", c.Sub.ID), zap.String("event", c.Event.Name), zap.String("event_id", c.Event.ID),
		zap.String("delivery", dl.ID), zap.Int("attempt", res.attempt.N), zap.Int64("duration_ms", res.attempt.DurationMs),
	}
	switch {
	case res.outcome == Delivered:
		fields = append(fields, zap.Int("status_code", res.attempt.StatusCode))
	case res.timeout:
		fields = append(fields, zap.String("error", res.attempt.Error), zap.Bool("final", final))
	default:
		fields = append(fields, zap.Int("status_code", res.attempt.StatusCode), zap.String("error", res.attempt.Error), zap.Bool("final", final))
	}
	ce.Write(fields...)
}

// TestResult is what the admin API's test route answers.
type TestResult struct {
	Success    bool   `json:"success"`
	StatusCode int    `json:"status_code"`
	DurationMs int64  `json:"duration_ms"`
	Error      string `json:"error"`
}

// SendTest sends a webhook.test event to sub now, once, signed like any
// delivery, and reports the outcome. It is not queued nor retried.
func (d *Dispatcher) SendTest(ctx context.Context, sub *webhook.Subscription) TestResult {
	cfg := d.cfg.Load()
	now := time.Now().UTC()
	data, _ := json.Marshal(map[string]string{
		"message":         "A test delivery from caddy-webhooks",
		"subscription_id": sub.ID,
	})
	ev := &webhook.Event{ID: webhook.NewID("evt_", now), Name: webhook.TestEvent, Time: now, Data: data}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := cfg.sender.send(ctx, sub, ev, 1)
	return TestResult{
		Success: res.outcome == Delivered, StatusCode: res.attempt.StatusCode,
		DurationMs: res.attempt.DurationMs, Error: res.attempt.Error,
	}
}
