package caddymodule

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/time/rate"

	"github.com/caddy-webhooks/caddy-webhooks/learn"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// Bounds of learn mode: what it costs a request it observes, and how many
// it observes.
const (
	// learnRate is how many exchanges per second learn mode reads (a
	// burst of as many); past it, requests pass unobserved and are
	// counted, so learning costs a busy site a bounded amount of CPU.
	learnRate = 200
	// learnBody is what learn mode reads of each JSON body; a longer one
	// counts as absent for the model.
	learnBody = 64 << 10
)

// Learner is learn mode's model and its sampling, shared by every handler
// with learn on and kept across config reloads (learners).
type Learner struct {
	Model    *learn.Model
	limiter  *rate.Limiter
	observed atomic.Int64
	sampled  atomic.Int64 // let through unobserved, over learnRate
}

// Observed returns how many exchanges the model was given, and how many
// were let through unobserved over the rate.
func (l *Learner) Observed() (observed, sampledOut int64) {
	return l.observed.Load(), l.sampled.Load()
}

// Destruct implements caddy.Destructor: the model holds no resource.
func (*Learner) Destruct() error { return nil }

// learners keeps the one Learner while some config uses learn mode, so a
// reload (a rule added) does not forget what was observed.
var learners = caddy.NewUsagePool()

const learnerKey = "learn"

func loadLearner() (*Learner, error) {
	v, _, err := learners.LoadOrNew(learnerKey, func() (caddy.Destructor, error) {
		return &Learner{Model: learn.New(learn.Options{}), limiter: rate.NewLimiter(learnRate, learnRate)}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Learner), nil
}

// admit reports whether this exchange is observed.
func (l *Learner) admit() bool {
	if l.limiter.Allow() {
		l.observed.Add(1)
		return true
	}
	l.sampled.Add(1)
	return false
}

// learnFrom serves the request as serve does, reading along (never
// holding) what the model needs: the status, the content types and JSON
// bodies up to learnBody.
func (h *Handler) learnFrom(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	lw := &learnWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	var reqBody *capped
	if isJSON(r.Header.Get("Content-Type")) && r.Body != nil && r.Body != http.NoBody {
		reqBody = &capped{limit: learnBody}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, reqBody), r.Body}
	}
	err := h.serve(lw, r, next)
	status := lw.status
	if status == 0 && err != nil {
		status = http.StatusInternalServerError
		if he := (caddyhttp.HandlerError{}); errors.As(err, &he) && he.StatusCode != 0 {
			status = he.StatusCode
		}
	}
	x := &learn.Exchange{
		Method: r.Method, Path: r.URL.Path, Status: status,
		RequestType: r.Header.Get("Content-Type"), ResponseType: lw.Header().Get("Content-Type"),
	}
	if reqBody != nil && (r.ContentLength < 0 || int64(len(reqBody.buf)) == r.ContentLength) {
		x.RequestBody, _ = reqBody.bytes(r.Header.Get("Content-Encoding"))
	}
	if lw.body != nil {
		x.ResponseBody, _ = lw.body.bytes(lw.Header().Get("Content-Encoding"))
	}
	h.learner.Model.Observe(x)
	return err
}

// isJSON reports whether a content type is JSON (application/json,
// application/vnd.api+json, ...).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || (len(mt) > 5 && mt[len(mt)-5:] == "+json"))
}

// capped keeps the first limit bytes written to it, and whether there
// were more.
type capped struct {
	buf   []byte
	limit int
	over  bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - len(c.buf); room < len(p) {
		c.over = true
		p = p[:max(room, 0)]
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// bytes returns what was kept, decoded (nil when it was cut or cannot be
// decoded).
func (c *capped) bytes(encoding string) ([]byte, bool) {
	if c.over {
		return nil, false
	}
	b, reason := decode(encoding, c.buf, learnBody, rules.ResponseBody)
	return bytes.Clone(b), reason == ""
}

// learnWriter passes a response through, noting its final status and
// keeping a copy of a JSON body up to learnBody.
type learnWriter struct {
	*caddyhttp.ResponseWriterWrapper
	status int
	body   *capped
}

func (lw *learnWriter) WriteHeader(code int) {
	if lw.status == 0 && code >= 200 {
		lw.status = code
		if isJSON(lw.Header().Get("Content-Type")) {
			lw.body = &capped{limit: learnBody}
		}
	}
	lw.ResponseWriterWrapper.WriteHeader(code)
}

func (lw *learnWriter) Write(p []byte) (int, error) {
	if lw.status == 0 {
		lw.WriteHeader(http.StatusOK)
	}
	n, err := lw.ResponseWriterWrapper.Write(p)
	if lw.body != nil {
		_, _ = lw.body.Write(p[:n])
	}
	return n, err
}

// ReadFrom copies through Write, so that the copy is kept.
func (lw *learnWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{lw}, r)
}

// Reset forgets what was observed, counts included.
func (l *Learner) Reset() {
	l.Model.Reset()
	l.observed.Store(0)
	l.sampled.Store(0)
}
