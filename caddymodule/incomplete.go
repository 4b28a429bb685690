package caddymodule

import (
	"errors"
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// errIncomplete is logged with the events of a response that was cut short.
var errIncomplete = errors.New("the response was cut short after its headers (the upstream failed mid-body)")

// passAbort is deferred by observe around the proxied exchange. When the
// upstream fails after its headers (a body shorter than its Content-Length,
// a chunked body without its last chunk, a body that does not decompress),
// reverse_proxy flushes what it wrote and panics with http.ErrAbortHandler
// so that net/http cuts the connection. A held response would never reach
// the client, so it is sent first, exactly as it stands; the candidate
// events are skipped, and the panic goes on so the connection is cut as
// without this module. Other panics pass untouched.
func (h *Handler) passAbort(r *http.Request, rec *spillRecorder, cands []rules.Candidate) {
	v := recover()
	if v == nil {
		return
	}
	if v != http.ErrAbortHandler { // net/http compares the sentinel itself too
		panic(v)
	}
	rec.writeHeld()
	for _, c := range cands {
		if c.Rule.MatchesStatus(rec.Status()) {
			h.skipped(r, c.Rule.Name(), rules.ReasonResponseIncomplete, errIncomplete)
		}
	}
	panic(http.ErrAbortHandler)
}
