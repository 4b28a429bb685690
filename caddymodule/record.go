package caddymodule

import (
	"bytes"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// spillRecorder is Caddy's ResponseRecorder with a bound: once a buffered
// response grows past the limit (a body of unknown length, or a lying
// Content-Length), what was buffered is written out and the rest streams
// through, so memory stays bounded and the client still gets every byte.
type spillRecorder struct {
	caddyhttp.ResponseRecorder
	w       http.ResponseWriter
	limit   int
	spilled bool
}

func newSpillRecorder(w http.ResponseWriter, buf *bytes.Buffer, shouldBuffer caddyhttp.ShouldBufferFunc, limit int) *spillRecorder {
	return &spillRecorder{ResponseRecorder: caddyhttp.NewResponseRecorder(w, buf, shouldBuffer), w: w, limit: limit}
}

// Write buffers or streams p, spilling the buffer first if p would take it
// past the limit.
func (s *spillRecorder) Write(p []byte) (int, error) {
	if s.spilled {
		return s.w.Write(p)
	}
	s.ResponseRecorder.WriteHeader(http.StatusOK) // no-op once a status was written
	if s.Buffered() && s.Buffer().Len()+len(p) > s.limit {
		s.spilled = true
		s.w.WriteHeader(s.Status())
		if _, err := s.w.Write(s.Buffer().Bytes()); err != nil {
			return 0, err
		}
		s.Buffer().Reset()
		return s.w.Write(p)
	}
	return s.ResponseRecorder.Write(p)
}

// ReadFrom copies through Write so that the limit applies.
func (s *spillRecorder) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{s}, r)
}

// FlushError flushes once the response streams; while it is held, flushing
// is suppressed as the recorder does.
func (s *spillRecorder) FlushError() error {
	if s.spilled {
		return http.NewResponseController(s.w).Flush()
	}
	return http.NewResponseController(s.ResponseRecorder).Flush()
}

// Unwrap lets http.ResponseController reach the recorder (and through it
// the connection, e.g. for a websocket upgrade).
func (s *spillRecorder) Unwrap() http.ResponseWriter { return s.ResponseRecorder }

// writerOnly hides ReadFrom so io.Copy uses Write.
type writerOnly struct{ io.Writer }

// writeHeld sends a held response as it stands — the status, the headers
// and the bytes that came — and flushes it, as reverse_proxy does before it
// aborts a response cut short. Nothing is written for a response that
// streams (it went out already) or that has no final status yet.
func (s *spillRecorder) writeHeld() {
	if s.spilled || !s.Buffered() || s.Status() < 200 {
		return
	}
	if err := s.WriteResponse(); err != nil {
		return // the client is gone
	}
	_ = http.NewResponseController(s.w).Flush()
}
