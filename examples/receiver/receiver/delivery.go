package receiver

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Delivery is one POST as received and judged, as listed by GET
// /deliveries.
type Delivery struct {
	// ReceivedAt is when the request was handled, in UTC.
	ReceivedAt time.Time `json:"received_at"`
	// Path is the request path, so several subscriptions can point at one
	// receiver under different paths.
	Path string `json:"path"`
	// Scheme is the scheme the signature was checked with: the forced one,
	// or the detected one; "" when Auto found no signature header.
	Scheme string `json:"scheme"`
	// Verified reports whether the signature was valid.
	Verified bool `json:"verified"`
	// Error is why the delivery was rejected; "" when Verified.
	Error string `json:"error"`
	// Status is the HTTP status that was answered.
	Status int `json:"status"`
	// Headers are the request's X-Webhook-*, Webhook-*, User-Agent and
	// Content-Type headers, under their canonical names; repeated headers
	// are joined with ", ".
	Headers map[string]string `json:"headers"`
	// Body is the request body: the exact bytes when it is JSON, else the
	// text as a JSON string; null when empty or not read (too large).
	// GET /deliveries re-indents it (same JSON, not the same bytes).
	Body json.RawMessage `json:"body"`
}

// clone returns a copy sharing no memory with d.
func (d Delivery) clone() Delivery {
	d.Headers = maps.Clone(d.Headers)
	d.Body = slices.Clone(d.Body)
	return d
}

// keptHeaders picks the headers a Delivery records.
func keptHeaders(h http.Header) map[string]string {
	out := make(map[string]string)
	for k, vs := range h {
		if strings.HasPrefix(k, "X-Webhook-") || strings.HasPrefix(k, "Webhook-") ||
			k == "User-Agent" || k == "Content-Type" {
			out[k] = strings.Join(vs, ", ")
		}
	}
	return out
}

// rawBody returns body as a JSON value for Delivery.Body.
func rawBody(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if json.Valid(body) {
		return slices.Clone(body)
	}
	s, _ := json.Marshal(string(body)) // a string always marshals
	return s
}

// store keeps the last deliveries, oldest first. It is safe for concurrent
// use.
type store struct {
	mu   sync.Mutex
	keep int
	list []Delivery
}

// add appends d, dropping the oldest delivery when full.
func (s *store) add(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) >= s.keep {
		n := copy(s.list, s.list[len(s.list)-s.keep+1:])
		clear(s.list[n:])
		s.list = s.list[:n]
	}
	s.list = append(s.list, d)
}

// all returns copies of the kept deliveries, oldest first; never nil.
func (s *store) all() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.list))
	for i, d := range s.list {
		out[i] = d.clone()
	}
	return out
}

// reset forgets every delivery.
func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = nil
}
