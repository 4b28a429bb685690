package caddymodule

import (
	"bytes"
	"io"
	"net/http"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// bodyCapture copies a request body, up to a limit, as the upstream reads
// it: the body still streams to the app, and nothing is read ahead of it.
type bodyCapture struct {
	io.ReadCloser
	buf      bytes.Buffer
	limit    int64
	overflow bool
	eof      bool
}

// captureBody wraps r.Body for capture. It returns a skip reason instead
// when the body is known to be too large.
func captureBody(r *http.Request, limit int64) (*bodyCapture, rules.SkipReason) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, ""
	}
	if r.ContentLength > limit {
		return nil, rules.ReasonRequestBodyTooLarge
	}
	c := &bodyCapture{ReadCloser: r.Body, limit: limit}
	r.Body = c
	return c, ""
}

// Read reads from the real body and keeps a copy while within the limit.
func (c *bodyCapture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.overflow {
		if int64(c.buf.Len()+n) > c.limit {
			c.overflow = true
			c.buf = bytes.Buffer{} // let the partial copy go
		} else {
			c.buf.Write(p[:n])
		}
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// result returns the captured body, or the reason it cannot be used. A
// body the upstream did not read to the end is incomplete, unless its
// declared length was read.
func (c *bodyCapture) result(contentLength int64) ([]byte, rules.SkipReason) {
	switch {
	case c == nil:
		return nil, ""
	case c.overflow:
		return nil, rules.ReasonRequestBodyTooLarge
	case !c.eof && int64(c.buf.Len()) != contentLength:
		return nil, rules.ReasonRequestBodyIncomplete
	}
	return c.buf.Bytes(), ""
}
