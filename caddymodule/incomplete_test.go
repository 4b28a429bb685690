package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestTransparencyPassAbort: when the handler below panics with
// http.ErrAbortHandler (reverse_proxy, upstream failing mid-body), a held
// response is sent as it stands and flushed, the candidate events are
// skipped, and the panic goes on; any other panic passes untouched.
func TestTransparencyPassAbort(t *testing.T) {
	cases := []struct {
		name       string
		buffer     bool   // the recorder holds the response
		status     int    // 0: nothing written before the panic
		writes     string // body bytes written before the panic
		panicWith  any
		wantClient string // the body the client has once the panic is through
		wantFlush  bool   // passAbort flushed the held response
		wantSkip   bool
	}{
		{name: "held, cut short", buffer: true, status: 200, writes: "partial", panicWith: http.ErrAbortHandler, wantClient: "partial", wantFlush: true, wantSkip: true},
		{name: "held, nothing of the body", buffer: true, status: 200, panicWith: http.ErrAbortHandler, wantFlush: true, wantSkip: true},
		{name: "spilled, cut short", buffer: true, status: 200, writes: "0123456789", panicWith: http.ErrAbortHandler, wantClient: "0123456789", wantSkip: true},
		{name: "streamed, cut short", status: 200, writes: "partial", panicWith: http.ErrAbortHandler, wantClient: "partial", wantSkip: true},
		{name: "status no rule matches", buffer: true, status: 500, writes: "oops", panicWith: http.ErrAbortHandler, wantClient: "oops", wantFlush: true},
		{name: "nothing written", buffer: true, panicWith: http.ErrAbortHandler},
		{name: "another panic", buffer: true, status: 200, writes: "held", panicWith: errors.New("boom")},
	}
	set := compileTestRules(t, `events:
  - name: thing.seen
    match: { method: GET, path: /things, status: 2xx }
    data: { id: response.body.id }
`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			h := &Handler{set: set, logger: zap.New(core)}
			r := httptest.NewRequest(http.MethodGet, "/things", nil)
			w := httptest.NewRecorder()
			var buf bytes.Buffer
			rec := newSpillRecorder(w, &buf, func(int, http.Header) bool { return tc.buffer }, 8)
			var got any
			func() {
				defer func() { got = recover() }()
				defer h.passAbort(r, rec, set.Candidates(r.Method, r.URL.Path))
				if tc.status != 0 {
					rec.Header().Set("Content-Type", "application/json")
					rec.WriteHeader(tc.status)
				}
				if tc.writes != "" {
					_, _ = rec.Write([]byte(tc.writes))
				}
				panic(tc.panicWith)
			}()
			if got != tc.panicWith {
				t.Fatalf("panic %v went on as %v", tc.panicWith, got)
			}
			if w.Body.String() != tc.wantClient {
				t.Errorf("client body %q, want %q", w.Body, tc.wantClient)
			}
			if tc.status != 0 && tc.panicWith == http.ErrAbortHandler && w.Code != tc.status {
				t.Errorf("client got status %d, want %d", w.Code, tc.status)
			}
			if w.Flushed != tc.wantFlush {
				t.Errorf("flushed = %v, want %v", w.Flushed, tc.wantFlush)
			}
			skips := logs.FilterMessage("event_skipped").FilterField(zap.String("reason", "response_incomplete")).Len()
			if want := map[bool]int{true: 1}[tc.wantSkip]; skips != want {
				t.Errorf("%d response_incomplete skips logged, want %d", skips, want)
			}
		})
	}
}
