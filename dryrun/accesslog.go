package dryrun

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxLogLine bounds one line of an access log; Caddy's lines are a few
// KiB (headers included), a line with bodies up to twice max_body.
const maxLogLine = 64 << 20

// accessLine is the part of a line of Caddy's JSON access log that a dry
// run reads. Caddy logs no bodies: request.body and resp_body (strings)
// are read when a log pipeline adds them.
type accessLine struct {
	Logger  *string `json:"logger"`
	Request *struct {
		Method  string              `json:"method"`
		URI     string              `json:"uri"`
		Headers map[string][]string `json:"headers"`
		Body    *string             `json:"body"`
	} `json:"request"`
	BytesRead   float64             `json:"bytes_read"`
	Size        float64             `json:"size"`
	Status      *float64            `json:"status"`
	RespHeaders map[string][]string `json:"resp_headers"`
	RespBody    *string             `json:"resp_body"`
}

// ReadAccessLog reads the exchanges of Caddy's access log in its json
// format (a log's `format json`, the default when the output is not a
// terminal), one line per request, in the order of the lines. Blank lines
// and other loggers' lines (a file shared with Caddy's own log) are
// skipped. An error names the line.
func ReadAccessLog(r io.Reader) ([]Exchange, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	var out []Exchange
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 {
			continue
		}
		x, ok, err := accessExchange(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ok {
			x.Index = n
			out = append(out, x)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d MiB", n+1, maxLogLine>>20)
		}
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}

// accessExchange reads one line; ok is false for a line that is not an
// access log entry.
func accessExchange(line []byte) (x Exchange, ok bool, err error) {
	var l accessLine
	if line[0] != '{' {
		return x, false, errors.New("not a JSON log line: the access log must use Caddy's json format (format json)")
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return x, false, fmt.Errorf("not a JSON log line: %w", jsonError(err))
	}
	if (l.Logger != nil && !strings.HasPrefix(*l.Logger, "http.log.access")) || l.Request == nil {
		return x, false, nil
	}
	if l.Request.Method == "" {
		return x, false, errors.New("request.method is missing")
	}
	u, err := parseTarget(l.Request.URI)
	if err != nil {
		return x, false, fmt.Errorf("request.uri: %w", err)
	}
	switch {
	case l.Status == nil:
		return x, false, errors.New("status is missing")
	case *l.Status < 0 || *l.Status > maxStatus || *l.Status != float64(int(*l.Status)):
		return x, false, fmt.Errorf("status %v: want an HTTP status code", *l.Status)
	}
	x = Exchange{Method: l.Request.Method, URL: u, Status: int(*l.Status),
		Header: logHeader(l.Request.Headers), RespHeader: logHeader(l.RespHeaders)}
	if l.Request.Body != nil {
		x.Body = []byte(*l.Request.Body)
	} else {
		x.BodyMissing = l.BytesRead > 0
	}
	if l.RespBody != nil {
		x.RespBody = []byte(*l.RespBody)
	} else {
		x.RespBodyMissing = l.Size > 0
	}
	return x, true, nil
}

func logHeader(m map[string][]string) http.Header {
	h := make(http.Header, len(m))
	for name, values := range m {
		for _, v := range values {
			addHeader(h, name, v)
		}
	}
	return h
}
