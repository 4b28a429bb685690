package caddymodule

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// exchange is one request that a rule may match, on its way through: what
// its candidate rules need of it, and what was captured of its bodies.
type exchange struct {
	h                 *Handler
	cands             []rules.Candidate
	needReq, needResp bool
	hold              bool // the response is held back while its events are stored
	reqBody           *bodyCapture
	reqSkip, respSkip rules.SkipReason
}

func (h *Handler) newExchange(r *http.Request) *exchange {
	x := &exchange{h: h, cands: h.set.Candidates(r.Method, r.URL.Path)}
	for _, c := range x.cands {
		x.needReq = x.needReq || c.Rule.NeedsRequestBody()
		x.needResp = x.needResp || c.Rule.NeedsResponseBody()
	}
	// The response is held back (buffered) when an event may come of it:
	// to read its body, and with sync durability so that the client sees
	// it only once the event is on disk. Streams and large bodies are never
	// held; rules that need their bodies skip their events.
	x.hold = x.needResp || h.app.durability == webhook.Sync
	return x
}

// canMatch reports whether a rule may match a response of this status.
func (x *exchange) canMatch(status int) bool {
	for _, c := range x.cands {
		if c.Rule.MatchesStatus(status) {
			return true
		}
	}
	return false
}

// shouldBuffer decides, from the response's head, whether it is held.
func (x *exchange) shouldBuffer(status int, header http.Header) bool {
	if !x.hold || !x.canMatch(status) {
		return false
	}
	if ct := header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
		x.respSkip = rules.ReasonResponseIsStream
		return false
	}
	if cl := header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > x.h.MaxBody {
			x.respSkip = rules.ReasonResponseBodyTooLarge
			return false
		}
	}
	return true
}

// input is what the rules see of the exchange once the response is in:
// the bodies decoded, or the reasons they cannot be read.
func (x *exchange) input(r *http.Request, rec *spillRecorder, status int) *rules.Input {
	if rec.spilled {
		x.respSkip = rules.ReasonResponseBodyTooLarge
	}
	in := &rules.Input{
		Method:      r.Method,
		Path:        r.URL.Path,
		Header:      r.Header,
		Query:       r.URL.Query(),
		Status:      status,
		RespHeader:  rec.Header(),
		BodyErr:     x.reqSkip,
		RespBodyErr: x.respSkip,
	}
	if x.reqBody != nil {
		in.Body, in.BodyErr = x.reqBody.result(r.ContentLength)
		if in.BodyErr == "" {
			in.Body, in.BodyErr = decode(r.Header.Get("Content-Encoding"), in.Body, x.h.MaxBody, rules.RequestBody)
		}
	}
	if x.needResp && in.RespBodyErr == "" {
		if rec.Buffered() {
			in.RespBody, in.RespBodyErr = decode(rec.Header().Get("Content-Encoding"), rec.Buffer().Bytes(), x.h.MaxBody, rules.ResponseBody)
		} else {
			in.RespBodyErr = rules.ReasonResponseNotBuffered
		}
	}
	return in
}
