package dryrun

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Exchange is one recorded request and its response, as the handler would
// have seen them.
type Exchange struct {
	// Index is where the exchange is in its recording: the HAR entry's
	// index in log.entries (from 0), or the access log's line number
	// (from 1). Events and errors name it.
	Index  int
	Method string
	URL    *url.URL // the request target: path and query
	Header http.Header
	Body   []byte
	// BodyMissing is set when the request had a body that the recording
	// does not hold (access logs, a HAR without postData): rules that
	// read it are skipped, as the handler skips a body that is not JSON.
	BodyMissing bool
	// Status is the response's status; 0 when there was none (a request
	// the browser or the client aborted), which no rule matches.
	Status          int
	RespHeader      http.Header
	RespBody        []byte // decoded: without its Content-Encoding
	RespBodyMissing bool   // as BodyMissing, for the response
}

// RequestLine is the exchange's "METHOD /path?query".
func (x *Exchange) RequestLine() string {
	return x.Method + " " + x.URL.RequestURI()
}

// maxStatus bounds the status codes a recording may hold: three digits.
const maxStatus = 999

// parseTarget reads a request URL, absolute (HAR) or a request target
// (access log), keeping its path and query only. "*" (OPTIONS *) is kept
// as it is: no rule's path matches it.
func parseTarget(raw string) (*url.URL, error) {
	switch raw {
	case "":
		return nil, errors.New("empty")
	case "*":
		return &url.URL{Path: "*"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%q has no path", raw)
	}
	target := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if target.Path == "" {
		target.Path = "/"
	}
	if !strings.HasPrefix(target.Path, "/") {
		return nil, fmt.Errorf("%q: the path must start with /", raw)
	}
	return target, nil
}

// addHeader adds a recorded header field as the server would see it:
// names canonical (HTTP/2 recordings are lower-case), no pseudo-headers,
// and no Host, which Go's server takes out of the headers (the handler's
// rules never see it there).
func addHeader(h http.Header, name, value string) {
	if name == "" || strings.HasPrefix(name, ":") || http.CanonicalHeaderKey(name) == "Host" {
		return
	}
	h.Add(name, value)
}
