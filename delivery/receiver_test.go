package delivery

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// receiver is the subscribers' side of the tests, for the rig's dispatcher
// and for a Caddy process alike: an httptest server that answers each path
// from a script (the last answer repeats; 200 if none) and records what it
// got, at the time of the clock it is given (the rig's fake clock, or
// time.Now).
type receiver struct {
	url  string
	now  func() time.Time
	hang chan struct{} // closed: hanging answers return

	mu      sync.Mutex
	script  map[string][]reply
	got     []request
	release sync.Once
}

// reply is a scripted answer. delay holds it that long in real time; hang
// holds it until releaseAll or the end of the test. Either ends early when
// the sender gives up (its timeout).
type reply struct {
	status int
	header map[string]string
	delay  time.Duration
	hang   bool
}

// request is a request the receiver got.
type request struct {
	path    string
	at      time.Time // on the receiver's clock
	attempt int       // X-Webhook-Attempt
	eventID string    // the envelope's id
	header  http.Header
	body    []byte
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	r := &receiver{now: now, hang: make(chan struct{}), script: map[string][]reply{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.releaseAll() // Close waits for the requests in flight
		srv.Close()
	})
	r.url = srv.URL
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &env)
	n, _ := strconv.Atoi(req.Header.Get("X-Webhook-Attempt"))
	r.mu.Lock()
	r.got = append(r.got, request{
		path: req.URL.Path, at: r.now(), attempt: n, eventID: env.ID, header: req.Header.Clone(), body: body,
	})
	a := reply{status: http.StatusOK}
	if list := r.script[req.URL.Path]; len(list) > 0 {
		a = list[0]
		if len(list) > 1 {
			r.script[req.URL.Path] = list[1:]
		}
	}
	r.mu.Unlock()
	if !a.wait(req, r.hang) {
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	fmt.Fprintf(w, `{"answer":%d}`, a.status)
}

// wait holds the answer as scripted; false if the sender gave up meanwhile.
func (a reply) wait(req *http.Request, hang <-chan struct{}) bool {
	var until <-chan time.Time
	switch {
	case a.hang:
		until = nil
	case a.delay > 0:
		timer := time.NewTimer(a.delay)
		defer timer.Stop()
		until = timer.C
	default:
		return true
	}
	select {
	case <-until:
	case <-hang:
	case <-req.Context().Done():
		return false
	}
	return true
}

// on scripts the answers on path.
func (r *receiver) on(path string, replies ...reply) {
	r.mu.Lock()
	r.script[path] = replies
	r.mu.Unlock()
}

// at returns the requests received on path, in order.
func (r *receiver) at(path string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, g := range r.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// wait polls until n requests arrived on path, in real time.
func (r *receiver) wait(t *testing.T, path string, n int, within time.Duration) []request {
	t.Helper()
	testbed.Eventually(t, within, fmt.Sprintf("%d deliveries on %s", n, path), func() bool { return len(r.at(path)) >= n })
	return r.at(path)
}

// releaseAll lets the hanging answers return.
func (r *receiver) releaseAll() { r.release.Do(func() { close(r.hang) }) }
