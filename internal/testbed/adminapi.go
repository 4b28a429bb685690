package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// API is a client of one Caddy admin endpoint, for the tests of the
// webhooks admin routes (package admin) and of the management page (e2e/):
// a request that cannot be sent, or an answer that is not what the test
// expects, fails the test T.
type API struct {
	T    testing.TB
	Base string // the endpoint's URL, "http://" + Caddy.AdminAddr
}

// apiClient sends each request to Caddy's admin endpoint on a connection of
// its own: every config load replaces the admin server, which closes its
// idle connections, and a request sent on one as it closes is reset.
var apiClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// sendAdmin sends req, and sends it again (up to 5 times) while it fails
// and again says so. Caddy replaces its admin server on every load: it
// binds a new socket with SO_REUSEPORT and closes the old one, resetting
// connections that were queued on it.
func sendAdmin(req *http.Request, again func(error) bool) (*http.Response, error) {
	resp, err := apiClient.Do(req)
	for try := 0; err != nil && again(err) && try < 5; try++ {
		time.Sleep(20 * time.Millisecond)
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		resp, err = apiClient.Do(req)
	}
	return resp, err
}

// Response is an answer of the admin API.
type Response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

func (r Response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, r.Status, r.Body)
}

// Do sends a request; body is nil (no body), a string or []byte (sent as
// is) or any other value (sent as JSON).
func (a API) Do(method, path string, body any) Response {
	a.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.Base+path, rd)
	if err != nil {
		a.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// A GET that met a reset (sendAdmin) is sent again.
	resp, err := sendAdmin(req, func(err error) bool { return method == http.MethodGet })
	if err != nil {
		a.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.T.Fatalf("%s %s: reading answer: %v", method, path, err)
	}
	return Response{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Expect fails the test unless the answer has status, and for answers with
// a body, unless it is JSON.
func (a API) Expect(r Response, status int) Response {
	a.T.Helper()
	if r.Status != status {
		a.T.Fatalf("want %d, got %s", status, r)
	}
	if status != http.StatusNoContent {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			a.T.Fatalf("Content-Type %q, want application/json: %s", ct, r)
		}
		if !json.Valid(r.Body) {
			a.T.Fatalf("answer is not JSON: %s", r)
		}
	}
	return r
}

// Object decodes an answer that must be a JSON object.
func (r Response) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil || m == nil {
		t.Fatalf("answer is not a JSON object (%v): %s", err, r)
	}
	return m
}

// List decodes an answer that must be a JSON array of objects.
func (r Response) List(t testing.TB) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(r.Body, &l); err != nil || l == nil {
		t.Fatalf("answer is not a JSON array (%v): %s", err, r)
	}
	return l
}

// APIError checks that r is a JSON error with status: {"error": "…"} with
// a message, and returns its fields (nil when absent).
func (a API) APIError(r Response, status int) (msg string, fields map[string]string) {
	a.T.Helper()
	a.Expect(r, status)
	var e struct {
		Error  *string           `json:"error"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		a.T.Fatalf("error answer is not {\"error\",\"fields\"} (%v): %s", err, r)
	}
	if e.Error == nil || *e.Error == "" {
		a.T.Fatalf("error answer without an error message: %s", r)
	}
	return *e.Error, e.Fields
}

// FieldError checks that r is a 400 naming field in "fields" with a
// message, and returns that message.
func (a API) FieldError(r Response, field string) string {
	a.T.Helper()
	_, fields := a.APIError(r, http.StatusBadRequest)
	msg, ok := fields[field]
	if !ok || msg == "" {
		a.T.Fatalf("want an error on field %q, got %s", field, r)
	}
	return msg
}

// Create posts a subscription and returns the 201 answer's object.
func (a API) Create(body any) map[string]any {
	a.T.Helper()
	return a.Expect(a.Do(http.MethodPost, "/webhooks/subscriptions", body), http.StatusCreated).Object(a.T)
}

// Get returns one subscription, which must exist.
func (a API) Get(id string) map[string]any {
	a.T.Helper()
	return a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil), http.StatusOK).Object(a.T)
}

// ListSubs returns the list answer for query (e.g. "?is_active=true").
func (a API) ListSubs(query string) []map[string]any {
	a.T.Helper()
	return a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions"+query, nil), http.StatusOK).List(a.T)
}

// Str returns a decoded JSON value as a string, or "" when it is not one.
func Str(v any) string {
	s, _ := v.(string)
	return s
}

// Strs returns a decoded JSON array as strings.
func Strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, Str(x))
	}
	return out
}
