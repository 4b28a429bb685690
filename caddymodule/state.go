package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// prefetchTimeout bounds the upstream request that fetches a resource's
// old state before a mutation.
const prefetchTimeout = 5 * time.Second

// resourceState is what state-aware rules need of the store: requests on
// one resource take turns, and each reads the state the last one left.
type resourceState interface {
	LockKeys(ctx context.Context, keys []string) (unlock func(), err error)
	Snapshot(ctx context.Context, key string) ([]byte, error)
}

// exchangeState is what the state-aware rules of one request share: the
// keys known before it went upstream (held, so that requests on one
// resource take turns), and the snapshot of each key as it was before.
type exchangeState struct {
	store resourceState
	// ctx is the request's context without its cancellation: once the
	// request reached the app, its state and events are recorded even if
	// the client has gone.
	ctx    context.Context
	keys   [][]string        // per candidate, per item, its early key ("" = none or late; one item without each)
	items  [][]*rules.Item   // per candidate with early keys, the items they were made of
	before map[string][]byte // key → snapshot before the request (nil = none)
	unlock func()
}

// release lets the next request on the keys go; safe to call twice.
func (st *exchangeState) release() {
	if st != nil && st.unlock != nil {
		st.unlock()
		st.unlock = nil
	}
}

// stateLockWait bounds how long a request waits for another one on the
// same resource; past it, it goes on without state rather than queue
// behind an upstream that hangs.
const stateLockWait = 15 * time.Second

// heldKeysCtxKey marks, in a request's context, the state keys it holds,
// so that a second webhooks handler on its way (a site-level one and one
// in a route) does not wait for the request itself.
type heldKeysCtxKey struct{}

// beginState takes the early keys of the candidates, reads their
// snapshots and, where there is none and the rule says how, fetches the
// old state upstream. It returns nil when no candidate keeps state, and
// the request to send on (its context marks the keys it holds).
func (h *Handler) beginState(r *http.Request, next caddyhttp.Handler, cands []rules.Candidate) (st *exchangeState, _ *http.Request) {
	// Whatever panics on the way (a prefetch through next), the keys are
	// not left held.
	defer func() {
		if p := recover(); p != nil {
			st.release()
			panic(p)
		}
	}()
	anyState := false
	for _, c := range cands {
		anyState = anyState || c.Rule.HasState()
	}
	if !anyState {
		return nil, r
	}
	h.app.waitStarted(r.Context())
	store := h.app.Store()
	if store == nil {
		return nil, r // the events are skipped later with store_unavailable
	}
	st = &exchangeState{store: store, ctx: context.WithoutCancel(r.Context()), keys: make([][]string, len(cands)), items: make([][]*rules.Item, len(cands)), before: map[string][]byte{}}
	early := &rules.Input{Method: r.Method, Path: r.URL.Path, Header: r.Header, Query: r.URL.Query()}
	// A key is taken only once the request body has arrived (read ahead
	// within max_body): a client trickling its upload would otherwise
	// hold every other request on the resource. A body that cannot be
	// read ahead (too large, cut off) streams, and the request goes on
	// without state.
	if needsLock(cands) || needsBodyFirst(cands) {
		early.Body, early.BodyErr = h.readAhead(r)
		if bodyNotRead(early.BodyErr) {
			h.logger.Debug("state_body_not_read", zap.String("reason", string(early.BodyErr)),
				zap.String("method", r.Method), zap.String("path", r.URL.Path))
			return st, r
		}
	}
	keys := h.earlyKeys(r, cands, early, st)
	if len(keys) == 0 {
		return st, r
	}
	r, ok := h.lockKeys(r, st, keys)
	if !ok {
		return st, r
	}
	h.readBefore(r, next, cands, early, st)
	return st, r
}

// earlyKeys makes the keys known before the request goes upstream, per
// candidate (and per item of a rule with each) in st.keys, and returns
// them.
func (h *Handler) earlyKeys(r *http.Request, cands []rules.Candidate, early *rules.Input, st *exchangeState) []string {
	var keys []string
	for i, c := range cands {
		if !c.Rule.StateKeyEarly() {
			continue
		}
		items, err := c.EarlyItems(early)
		if err != nil {
			h.noState(r, c.Rule, err) // each_too_many: its events are skipped later
			continue
		}
		st.keys[i], st.items[i] = make([]string, len(items)), items
		for j := range items {
			early.SetItem(items[j])
			k, err := c.StateKey(early)
			if err != nil {
				h.noState(r, c.Rule, err)
				continue
			}
			st.keys[i][j] = k
			keys = append(keys, k)
		}
		early.SetItem(nil)
	}
	return keys
}

// lockKeys takes the keys the request does not hold already (through an
// outer webhooks handler), and returns the request marked as holding
// them; false, with no keys left in st, when they could not be taken in
// time.
func (h *Handler) lockKeys(r *http.Request, st *exchangeState, keys []string) (*http.Request, bool) {
	held, _ := r.Context().Value(heldKeysCtxKey{}).(map[string]bool)
	var toLock []string
	for _, k := range keys {
		if !held[k] {
			toLock = append(toLock, k)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), stateLockWait)
	unlock, err := st.store.LockKeys(ctx, toLock)
	cancel()
	if err != nil {
		// The client went away, or another request on the resource
		// has held it too long: no state for this one.
		h.logger.Warn("state_lock_timeout", zap.Strings("keys", toLock), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Error(err))
		clear(st.keys)
		return r, false
	}
	st.unlock = unlock
	mine := make(map[string]bool, len(held)+len(keys))
	for k := range held {
		mine[k] = true
	}
	for _, k := range keys {
		mine[k] = true
	}
	return r.WithContext(context.WithValue(r.Context(), heldKeysCtxKey{}, mine)), true
}

// readBefore reads the state of each early key as it is before the
// request: its snapshot, or, where there is none and the rule says how,
// what the app answers to a prefetch (a batch's items fetched a few at a
// time).
func (h *Handler) readBefore(r *http.Request, next caddyhttp.Handler, cands []rules.Candidate, early *rules.Input, st *exchangeState) {
	var fetches []prefetchJob
	queued := map[string]bool{}
	for i, c := range cands {
		if st.keys[i] == nil {
			continue
		}
		for j, k := range st.keys[i] {
			if k == "" || queued[k] {
				continue
			}
			snap, read := st.before[k]
			if !read {
				var err error
				if snap, err = st.store.Snapshot(st.ctx, k); errors.Is(err, webhook.ErrClosed) {
					return // a reload closed it: the events are skipped as store_unavailable
				} else if err != nil {
					h.logger.Error("reading state", zap.String("key", k), zap.Error(err))
				}
				st.before[k] = snap
			}
			if snap != nil {
				continue
			}
			early.SetItem(st.items[i][j])
			if method, path, ok, err := c.Prefetch(early); err != nil {
				h.noState(r, c.Rule, err)
			} else if ok {
				queued[k] = true
				fetches = append(fetches, prefetchJob{c: c, key: k, method: method, path: path})
			}
		}
		early.SetItem(nil)
	}
	h.prefetchAll(r, next, fetches, st)
}

// prefetchJob is one resource to fetch before the request goes upstream.
type prefetchJob struct {
	c                 rules.Candidate
	key, method, path string
}

// prefetchParallel bounds the prefetches of one request that run at once:
// a batch's items are fetched a few at a time, not one after the other
// (a thousand of them, each up to prefetchTimeout) nor all at once.
const prefetchParallel = 8

// prefetchAll runs the prefetches and records what each gives as the
// state before the request (nil when it failed, logged).
func (h *Handler) prefetchAll(r *http.Request, next caddyhttp.Handler, jobs []prefetchJob, st *exchangeState) {
	got := make([][]byte, len(jobs))
	var g errgroup.Group
	g.SetLimit(prefetchParallel)
	for n, job := range jobs {
		g.Go(func() error {
			got[n] = h.prefetchSelect(job.c, h.prefetch(r, next, job.method, job.path, job.key), r, job.key, job.path)
			return nil // a failed prefetch is logged, and previous null
		})
	}
	_ = g.Wait()
	for n, job := range jobs {
		st.before[job.key] = got[n]
	}
}

// needsLock reports whether a candidate's state key is known before the
// request goes upstream, and so is held while it is there.
func needsLock(cands []rules.Candidate) bool {
	for _, c := range cands {
		if c.Rule.StateKeyEarly() {
			return true
		}
	}
	return false
}

// needsBodyFirst reports whether a candidate's early key or prefetch
// reads the request body.
func needsBodyFirst(cands []rules.Candidate) bool {
	for _, c := range cands {
		if c.Rule.StateNeedsBodyFirst() {
			return true
		}
	}
	return false
}

// bodyNotRead reports whether readAhead left the body (or part of it) to
// stream, so that the client is still sending it.
func bodyNotRead(reason rules.SkipReason) bool {
	return reason == rules.ReasonRequestBodyTooLarge || reason == rules.ReasonRequestBodyUnreadable
}

// readAhead reads the request body before it goes upstream (a state key
// names the resource from it, as a payment provider's callback does) and
// puts it back for the upstream to read. A body over max_body is left to
// stream: what was read goes first, and the key is unavailable.
func (h *Handler) readAhead(r *http.Request) ([]byte, rules.SkipReason) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, ""
	}
	if r.ContentLength > h.MaxBody {
		return nil, rules.ReasonRequestBodyTooLarge
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(raw), errReader{err}, r.Body), r.Body}
	switch {
	case err != nil:
		return nil, rules.ReasonRequestBodyUnreadable
	case int64(len(raw)) > h.MaxBody:
		return nil, rules.ReasonRequestBodyTooLarge
	}
	return decode(r.Header.Get("Content-Encoding"), raw, h.MaxBody, rules.RequestBody)
}

// errReader returns err (the read-ahead's error, if any) to the upstream
// once the bytes read ahead are consumed; with no error it is empty.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// previousFor returns the snapshot candidate i (at its item j; 0 without
// each) sees as previous: its early key's state before the request, or
// for a key read from the response, the state remembered under it now (the
// request has written nothing yet).
func (st *exchangeState) previousFor(i, j int, c rules.Candidate, in *rules.Input) (key string, prev []byte, err error) {
	if st == nil || !c.Rule.HasState() {
		return "", nil, nil
	}
	if c.Rule.StateKeyEarly() {
		if j < len(st.keys[i]) && st.keys[i][j] != "" {
			return st.keys[i][j], st.before[st.keys[i][j]], nil
		}
		return "", nil, nil // its key could not be made: already logged
	}
	key, err = c.StateKey(in)
	if err != nil {
		return "", nil, noKeyError{err}
	}
	if prev, ok := st.before[key]; ok {
		return key, prev, nil
	}
	prev, err = st.store.Snapshot(st.ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("reading state %s: %w", key, err)
	}
	st.before[key] = prev
	return key, prev, nil
}

// noKeyError says a rule's state key could not be made from this exchange
// (a part of it is null): the rule then runs with no state.
type noKeyError struct{ error }

// noState logs, at debug level, that a rule runs without state for this
// request: the request is not about a resource the rule can name (a
// payment provider's event of another type, a missing header), which is
// not a reason to skip its event.
func (h *Handler) noState(r *http.Request, rule *rules.Rule, err error) {
	if ce := h.logger.Check(zap.DebugLevel, "state_key_missing"); ce != nil {
		ce.Write(zap.String("event", rule.Name()), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Error(err))
	}
}

// noSnapshot logs, at debug level, that a matched rule's snapshot could not
// be made (e.g. a 204 with no body to remember): the remembered state
// stays as it was, and the rule's event, if any, is not affected.
func (h *Handler) noSnapshot(r *http.Request, rule *rules.Rule, key string, err error) {
	if ce := h.logger.Check(zap.DebugLevel, "state_not_written"); ce != nil {
		ce.Write(zap.String("event", rule.Name()), zap.String("key", key), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.Error(err))
	}
}

// prefetch asks the rest of the handler chain (the same reverse_proxy,
// with its load balancing and header rules) for the resource's current
// state, as a GET with the original request's credentials. It returns nil,
// with the reason logged, unless the answer is a 2xx JSON body.
func (h *Handler) prefetch(r *http.Request, next caddyhttp.Handler, method, path, key string) []byte {
	ctx, cancel := context.WithTimeout(r.Context(), prefetchTimeout)
	defer cancel()
	pr := r.Clone(ctx)
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""
	escPath, query, _ := strings.Cut(path, "?")
	if err := setEscapedPath(&u, escPath); err != nil {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchBadPath, err, 0)
		return nil
	}
	u.RawQuery = query
	pr.Method, pr.URL, pr.RequestURI = method, &u, u.RequestURI()
	pr.Header = prefetchHeader(r.Header)
	pr.Body, pr.ContentLength, pr.TransferEncoding, pr.Trailer = http.NoBody, 0, nil, nil
	// A fresh replacer and request context, as the server gives a new
	// request, so the prefetch does not overwrite the placeholders of the
	// request it runs for.
	sink := &discardWriter{header: http.Header{}}
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok {
		pr = caddyhttp.PrepareRequest(pr, caddy.NewReplacer(), sink, srv)
	}

	buf := new(bytes.Buffer)
	rec := newSpillRecorder(sink, buf, func(int, http.Header) bool { return true }, int(h.MaxBody))
	if err := serveRecovering(next, rec, pr); err != nil {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchFailed, err, 0)
		return nil
	}
	status := rec.Status()
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 299 {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchFailed, errors.New("upstream answered "+strconv.Itoa(status)), status)
		return nil
	}
	if rec.spilled {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchTooLarge, nil, 0)
		return nil
	}
	body, reason := decode(rec.Header().Get("Content-Encoding"), buf.Bytes(), h.MaxBody, rules.PrefetchBody)
	if reason != "" {
		h.prefetchFailed(r, key, path, reason, nil, 0)
		return nil
	}
	if !json.Valid(body) {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchNotJSON, nil, 0)
		return nil
	}
	return bytes.Clone(body)
}

// prefetchSelect keeps what the rule's prefetch select picks from the
// answer (an API's envelope, {"data": {...}}, left out), or nil, logged,
// when it finds nothing there.
func (h *Handler) prefetchSelect(c rules.Candidate, answer []byte, r *http.Request, key, path string) []byte {
	if answer == nil {
		return nil
	}
	prev, ok := c.SelectPrefetched(answer)
	if !ok {
		h.prefetchFailed(r, key, path, rules.ReasonPrefetchSelectMissing, nil, 0)
		return nil
	}
	return prev
}

// notForwarded (with every Content-* header) are the request headers a
// prefetch leaves out: they describe the mutating request's body, make the answer conditional or
// partial, or belong to the client's connection. Everything else (the
// credentials: Authorization, Cookie, an SSO gateway's X-User-Id, ...)
// goes with it, so the app answers the GET as it would the client.
var notForwarded = map[string]bool{
	"Digest":            true,
	"Transfer-Encoding": true, "Expect": true, "Trailer": true, "Te": true,
	"Connection": true, "Keep-Alive": true, "Upgrade": true, "Proxy-Connection": true,
	"Range": true, "If-Range": true, "If-Match": true, "If-None-Match": true,
	"If-Modified-Since": true, "If-Unmodified-Since": true,
	"Accept-Encoding": true, // the transport asks for and undoes gzip itself
	"Idempotency-Key": true,
}

func prefetchHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, v := range h {
		if !notForwarded[name] && !strings.HasPrefix(name, "Content-") {
			out[name] = v
		}
	}
	out.Set("Accept", "application/json")
	return out
}

// serveRecovering runs next for a prefetch. reverse_proxy aborts a
// response whose upstream body fails part-way (the prefetch's timeout
// firing during a slow body) by panicking with http.ErrAbortHandler; for
// a prefetch that is only a failed fetch, not the client's request
// aborted.
func serveRecovering(next caddyhttp.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			err = errors.New("the upstream response was cut off")
		}
	}()
	return next.ServeHTTP(w, r)
}

// prefetchFailed logs why previous is null for this request. A 404 is the
// client asking about a resource that does not exist (the app answers the
// mutation 404 too): routine, so it is logged at debug level only.
func (h *Handler) prefetchFailed(r *http.Request, key, path string, reason rules.SkipReason, err error, status int) {
	metrics.skipped.WithLabelValues(string(reason)).Inc()
	level := zap.WarnLevel
	if status == http.StatusNotFound {
		level = zap.DebugLevel
	}
	ce := h.logger.Check(level, "state_prefetch_failed")
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("key", key), zap.String("prefetch", path), zap.String("reason", string(reason)),
		zap.String("method", r.Method), zap.String("path", r.URL.Path)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	ce.Write(fields...)
}

// setEscapedPath sets u's path from an escaped one.
func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, escaped
	return nil
}

// discardWriter is the client side of a prefetch: the recorder buffers
// everything, so nothing reaches it but headers.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
