package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/queue"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// prefetchTimeout bounds the upstream request that fetches a resource's
// old state before a mutation.
const prefetchTimeout = 5 * time.Second

// exchangeState is what the state-aware rules of one request share: the
// keys known before it went upstream (held, so that requests on one
// resource take turns), and the snapshot of each key as it was before.
type exchangeState struct {
	store  *queue.Store
	keys   []string          // per candidate, its early key ("" = none or late)
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

// beginState takes the early keys of the candidates, reads their
// snapshots and, where there is none and the rule says how, fetches the
// old state upstream. It returns nil when no candidate keeps state.
func (h *Handler) beginState(r *http.Request, next caddyhttp.Handler, cands []rules.Candidate) *exchangeState {
	anyState := false
	for _, c := range cands {
		anyState = anyState || c.Rule.HasState()
	}
	if !anyState {
		return nil
	}
	store := h.app.Store()
	if store == nil {
		return nil // the events are skipped later with store_unavailable
	}
	st := &exchangeState{store: store, keys: make([]string, len(cands)), before: map[string][]byte{}}
	early := &rules.Input{Method: r.Method, Path: r.URL.Path, Header: r.Header, Query: r.URL.Query()}
	var keys []string
	for i, c := range cands {
		if !c.Rule.StateKeyEarly() {
			continue
		}
		k, err := c.StateKey(early)
		if err != nil {
			h.skip(r, c.Rule, err)
			continue
		}
		st.keys[i] = k
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return st
	}
	st.unlock = store.LockKeys(keys)
	prefetched := map[string]bool{}
	for i, c := range cands {
		k := st.keys[i]
		if k == "" {
			continue
		}
		snap, read := st.before[k]
		if !read {
			var err error
			if snap, err = store.Snapshot(k); err != nil {
				h.logger.Error("reading state", zap.String("key", k), zap.Error(err))
			}
		}
		if snap == nil && !prefetched[k] {
			if method, path, ok, err := c.Prefetch(early); err != nil {
				h.skip(r, c.Rule, err)
			} else if ok {
				prefetched[k] = true
				snap = h.prefetch(r, next, method, path, k)
			}
		}
		st.before[k] = snap
	}
	return st
}

// previousFor returns the snapshot candidate i sees as previous: its early
// key's state before the request, or for a key read from the response, the
// state remembered under it now (the request has written nothing yet).
func (st *exchangeState) previousFor(i int, c rules.Candidate, in *rules.Input) (key string, prev []byte, err error) {
	if st == nil || !c.Rule.HasState() {
		return "", nil, nil
	}
	if st.keys[i] != "" {
		return st.keys[i], st.before[st.keys[i]], nil
	}
	if c.Rule.StateKeyEarly() {
		return "", nil, nil // its key could not be made: already logged
	}
	key, err = c.StateKey(in)
	if err != nil {
		return "", nil, err
	}
	if prev, ok := st.before[key]; ok {
		return key, prev, nil
	}
	prev, err = st.store.Snapshot(key)
	if err != nil {
		return "", nil, fmt.Errorf("reading state %s: %w", key, err)
	}
	st.before[key] = prev
	return key, prev, nil
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
	if err := setEscapedPath(&u, path); err != nil {
		h.prefetchFailed(r, key, path, "prefetch_bad_path", err)
		return nil
	}
	pr.Method, pr.URL, pr.RequestURI = method, &u, u.RequestURI()
	pr.Header = http.Header{"Accept": {"application/json"}}
	for _, name := range []string{"Authorization", "Cookie"} {
		if v := r.Header.Values(name); len(v) > 0 {
			pr.Header[name] = v
		}
	}
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
	if err := next.ServeHTTP(rec, pr); err != nil {
		h.prefetchFailed(r, key, path, "prefetch_failed", err)
		return nil
	}
	status := rec.Status()
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 299 {
		h.prefetchFailed(r, key, path, "prefetch_failed", errors.New("upstream answered "+strconv.Itoa(status)))
		return nil
	}
	if rec.spilled {
		h.prefetchFailed(r, key, path, "prefetch_too_large", nil)
		return nil
	}
	body, reason := decode(rec.Header().Get("Content-Encoding"), buf.Bytes(), h.MaxBody, "prefetch")
	if reason != "" {
		h.prefetchFailed(r, key, path, reason, nil)
		return nil
	}
	if !json.Valid(body) {
		h.prefetchFailed(r, key, path, "prefetch_not_json", nil)
		return nil
	}
	return bytes.Clone(body)
}

// prefetchFailed logs why previous is null for this request.
func (h *Handler) prefetchFailed(r *http.Request, key, path, reason string, err error) {
	metrics.skipped.WithLabelValues(reason).Inc()
	fields := []zap.Field{zap.String("key", key), zap.String("prefetch", path), zap.String("reason", reason),
		zap.String("method", r.Method), zap.String("path", r.URL.Path)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	h.logger.Warn("state_prefetch_failed", fields...)
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
