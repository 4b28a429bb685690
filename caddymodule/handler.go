package caddymodule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// The handler's modes.
const (
	ModeLive   = "live"
	ModeShadow = "shadow"
)

// defaultMaxBody is the largest request or response body read for
// extraction when max_body is not set.
const defaultMaxBody = 1 << 20

// Handler is the `webhooks` HTTP handler. It sits before reverse_proxy,
// lets every request through untouched, and turns the requests and responses
// that its rules match into events in the webhooks app's store.
type Handler struct {
	// Rules lists YAML rule files (the rule format: docs/rules.md).
	Rules []string `json:"rules,omitempty"`
	// RulesSHA256 is the Caddyfile adapter's record of each rule file's
	// content (hex SHA-256 by name in Rules). It is not read: it is there so
	// that an edited rule file changes the config JSON, which Caddy would
	// otherwise not reload as unchanged. Provision reads the files as they
	// are now, so a stale digest (an autosaved config, a JSON config) is no
	// error.
	RulesSHA256 map[string]string `json:"rules_sha256,omitempty"`
	// Events are rules written inline, with the same keys as the YAML.
	Events []rules.Spec `json:"events,omitempty"`
	// MaxBody is the largest body, in bytes, read for extraction; larger
	// bodies pass through untouched and their events are skipped. Default 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// Mode is "live" (the default): events are delivered; or "shadow":
	// every event of the handler's rules is stored and listed, marked
	// shadow, but never delivered, so that new rules can run on
	// production traffic first. A rule can be in shadow mode alone
	// (shadow: true).
	Mode string `json:"mode,omitempty"`
	// Learn observes every request through the handler, without changing
	// it, and builds a model of the app's API from which the admin API
	// proposes rules (GET /webhooks/learn/rules.yaml). It may be on with
	// no rules yet.
	Learn bool `json:"learn,omitempty"`

	set     *rules.Set
	app     *App
	learner *Learner // nil unless Learn
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhooks",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision reads and compiles the rules once, and finds the app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	var specs []rules.Spec
	for _, name := range h.Rules {
		name = ruleFilePath(name)
		src, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("webhooks: rules: %w", err)
		}
		parsed, err := rules.Parse(name, src)
		if err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
		specs = append(specs, parsed...)
	}
	specs = append(specs, h.Events...)
	if len(specs) == 0 && !h.Learn {
		return errors.New("webhooks: no rules: give a rule file with `rules` or inline `event` blocks (or `learn`, to propose rules from the traffic)")
	}
	set, err := rules.Compile(specs)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	h.set = set

	appIface, err := ctx.App("webhooks")
	if err != nil {
		return fmt.Errorf("webhooks: getting the webhooks app: %w", err)
	}
	h.app = appIface.(*App)
	h.app.addRules(set)
	if h.Learn {
		if h.learner, err = loadLearner(); err != nil {
			return fmt.Errorf("webhooks: learn: %w", err)
		}
		h.app.mu.Lock()
		h.app.learner = h.learner
		h.app.mu.Unlock()
	}
	return nil
}

// Cleanup lets the learn model go once no config learns any more.
func (h *Handler) Cleanup() error {
	if h.learner != nil {
		_, err := learners.Delete(learnerKey)
		return err
	}
	return nil
}

// Validate checks the handler's settings.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 {
		return fmt.Errorf("webhooks: max_body must be positive, got %d", h.MaxBody)
	}
	if h.Mode != "" && h.Mode != ModeLive && h.Mode != ModeShadow {
		return fmt.Errorf("webhooks: mode must be %q or %q, got %q", ModeLive, ModeShadow, h.Mode)
	}
	return nil
}

// ServeHTTP passes requests that no rule can match straight on; the others
// are observed on their way through.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.learner != nil && h.learner.admit() {
		return h.learnFrom(w, r, next)
	}
	return h.serve(w, r, next)
}

// serve is ServeHTTP without learning.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.set.Matches(r.Method, r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	return h.observe(w, r, next)
}

// bufPool recycles response buffers of candidate requests.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// observe proxies a candidate request, capturing the request body as it
// streams upstream and holding the response until its events are stored.
func (h *Handler) observe(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	x := h.newExchange(r)

	// State-aware rules: the resource's key is held from here until its
	// new state is written, so requests on it take turns. (A key read from
	// the request body reads it ahead, before the capture below.)
	st, r := h.beginState(r, next, x.cands)
	defer st.release()
	if x.needReq {
		x.reqBody, x.reqSkip = captureBody(r, h.MaxBody)
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= int(h.MaxBody)+bytes.MinRead { // do not keep huge buffers around
			bufPool.Put(buf)
		}
	}()
	rec := newSpillRecorder(w, buf, x.shouldBuffer, int(h.MaxBody))
	defer h.passAbort(r, rec, x.cands) // an upstream failing mid-body: see incomplete.go

	if err := next.ServeHTTP(rec, r); err != nil {
		// Nothing buffered was written: Caddy's error handling answers
		// the client as it would without this module.
		return err
	}
	status := rec.Status()
	if status == 0 {
		status = http.StatusOK
	}
	if x.canMatch(status) {
		h.emit(r, x.cands, x.input(r, rec, status), st)
	}
	st.release() // before the client's write, which may be slow
	if rec.Buffered() && !rec.spilled {
		return rec.WriteResponse()
	}
	return nil
}

// emit evaluates the candidate rules, a rule with each once per item, and
// stores their events in one transaction.
func (h *Handler) emit(r *http.Request, cands []rules.Candidate, in *rules.Input, st *exchangeState) {
	out := &emission{now: time.Now()}
	if tp := webhook.TraceParent(r.Header.Get("Traceparent")); tp != "" {
		out.traceParent, out.traceState = tp, r.Header.Get("Tracestate")
	}
	for i, c := range cands {
		if !c.Rule.MatchesStatus(in.Status) {
			continue
		}
		if !c.Rule.HasEach() {
			h.evalRule(r, out, st, i, 0, c, in)
			continue
		}
		items, err := c.Items(in)
		if err != nil {
			h.skip(r, c.Rule, err)
			continue
		}
		for j := range items {
			in.SetItem(&items[j])
			h.evalRule(r, out, st, i, j, c, in)
		}
		in.SetItem(nil)
	}
	if len(out.events) == 0 && len(out.snaps) == 0 {
		return
	}
	out.number()
	// The exchange happened: its events are stored even if the client
	// has gone meanwhile.
	if err := h.app.commit(context.WithoutCancel(r.Context()), out.events, out.snaps); err != nil {
		h.notStored(r, out.events, err)
		return
	}
	for _, ev := range out.events {
		metrics.events.WithLabelValues(ev.Name).Inc()
		if ce := h.logger.Check(zap.DebugLevel, "event_inferred"); ce != nil {
			ce.Write(zap.String("event", ev.Name), zap.String("id", ev.ID),
				zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", in.Status))
		}
	}
}

// emission is what the rules of one exchange give, stored together.
type emission struct {
	now                     time.Time
	traceParent, traceState string
	events                  []webhook.Event
	snaps                   []webhook.Snapshot
}

// number gives the events their IDs, in the order they were inferred:
// the IDs of one instant sort by their random part, so the stored order
// (and a batch's items) would otherwise be shuffled.
func (out *emission) number() {
	ids := make([]string, len(out.events))
	for i := range ids {
		ids[i] = webhook.NewID("evt_", out.now)
	}
	slices.Sort(ids)
	for i := range out.events {
		out.events[i].ID = ids[i]
	}
}

// evalRule evaluates candidate i (at its item j) on in, adding its event
// and its snapshot to out.
func (h *Handler) evalRule(r *http.Request, out *emission, st *exchangeState, i, j int, c rules.Candidate, in *rules.Input) {
	// Every rule sees the state as it was before the request: the
	// snapshots are written after all of them, with their events.
	key, prev, err := st.previousFor(i, j, c, in)
	var nk noKeyError
	if errors.As(err, &nk) {
		h.noState(r, c.Rule, nk.error)
	} else if err != nil {
		h.skip(r, c.Rule, err)
		return
	}
	in.SetPrevious(prev)
	if key != "" && c.Rule.StateForgets() {
		out.snaps = append(out.snaps, webhook.Snapshot{Key: key}) // forget: the next request fetches it
	} else if key != "" {
		if snap, err := c.Snapshot(in); err != nil {
			h.noSnapshot(r, c.Rule, key, err) // the state stays as it was; the event is not affected
		} else if len(snap) > 0 && string(snap) != "null" {
			out.snaps = append(out.snaps, webhook.Snapshot{Key: key, Value: bytes.Clone(snap)})
		}
	}
	ev, err := c.EvalContext(r.Context(), in) // a `when` over a huge body stops when the client leaves
	if err != nil {
		h.skip(r, c.Rule, err)
		return
	}
	if ev == nil {
		return // `when` is false
	}
	out.events = append(out.events, webhook.Event{
		OrderKey: h.orderKey(r, c, in, key),
		Name:     ev.Name,
		Time:     out.now,
		Data:     ev.Data,
		UserID:   ev.UserID,
		Site:     ev.Site,
		Shadow:   ev.Shadow || h.Mode == ModeShadow,
		// Caddy's tracing handler, before this one, puts its span in the
		// request's headers for the upstream: either way, the request's
		// trace.
		TraceParent: out.traceParent,
		TraceState:  out.traceState,
	})
}

// orderKey is the resource an event is about, for ordered subscriptions:
// the rule's order_key, else its state key. An order_key that cannot be
// rendered leaves the event unordered, with a warning: the event itself
// is not lost.
func (h *Handler) orderKey(r *http.Request, c rules.Candidate, in *rules.Input, stateKey string) string {
	k, err := c.EventOrderKey(in, stateKey)
	if err != nil {
		h.logger.Warn("event not ordered", zap.String("event", c.Rule.Name()), zap.String("path", r.URL.Path), zap.Error(err))
	}
	return k
}

// notStored logs, at error level, each event that the store refused,
// whole (the envelope as it would have been stored), so that an operator
// can recover it from the log; and counts it.
func (h *Handler) notStored(r *http.Request, events []webhook.Event, err error) {
	logNotStored(h.logger, events, err, zap.String("method", r.Method), zap.String("path", r.URL.Path))
}

// logNotStored logs each event that the store refused, whole, and counts
// it, with the request's fields if known (an asynchronous commit fails
// after its request is gone).
func logNotStored(logger *zap.Logger, events []webhook.Event, err error, request ...zap.Field) {
	reason := rules.ReasonStoreError
	if errors.Is(err, webhook.ErrUnavailable) {
		reason = rules.ReasonStoreUnavailable // closed by a reload, or its disk is short of space
	}
	for _, ev := range events {
		metrics.skipped.WithLabelValues(string(reason)).Inc()
		fields := append([]zap.Field{zap.String("event", ev.Name), zap.String("reason", string(reason))}, request...)
		logger.Error("event_skipped", append(fields, zap.Error(err), zap.Any("envelope", ev))...)
	}
}

// skip logs and counts a rule whose event could not be produced.
func (h *Handler) skip(r *http.Request, rule *rules.Rule, err error) {
	reason := rules.ReasonError
	var se *rules.SkipError
	if errors.As(err, &se) {
		reason = se.Reason
		err = se.Err
	}
	h.skipped(r, rule.Name(), reason, err)
}

func (h *Handler) skipped(r *http.Request, event string, reason rules.SkipReason, err error) {
	metrics.skipped.WithLabelValues(string(reason)).Inc()
	fields := []zap.Field{zap.String("event", event), zap.String("reason", string(reason)),
		zap.String("method", r.Method), zap.String("path", r.URL.Path)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	h.logger.Warn("event_skipped", fields...)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
