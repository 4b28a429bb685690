package caddymodule_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// upstream is the legacy app of these tests: a real HTTP server on a
// loopback port whose responses exercise every way a response can travel.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Total float64 `json:"total"`
			Fail  int     `json:"fail"`
			Site  string  `json:"site"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
			return
		}
		if in.Fail != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(in.Fail)
			fmt.Fprintf(w, `{"error":"failed with %d"}`, in.Fail)
			return
		}
		mu.Lock()
		n++
		id := fmt.Sprintf("ord%04d", n)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-App", "legacy")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"_id":%q,"orderNumber":"CMD-%s","total":%v,"site":%q,"status":"pending"}`, id, id, in.Total, in.Site)
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"_id":%q,"status":"pending"}`, r.PathValue("id"))
	})
	// /t/... responses for transparency tests.
	mux.HandleFunc("/t/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		fmt.Fprint(gz, `{"id":"gz1","items":[1,2,3]}`)
		gz.Close()
	})
	mux.HandleFunc("/t/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		f := http.NewResponseController(w)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: {\"id\":%d}\n\n", i)
			_ = f.Flush()
			// The client acknowledges each event before the next is sent:
			// proof that events arrive one by one, not at the end.
			select {
			case <-sseAck:
			case <-time.After(10 * time.Second):
				return
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/t/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"big","pad":"`))
		w.Write([]byte(strings.Repeat("x", 8<<10)))
		w.Write([]byte(`"}`))
	})
	mux.HandleFunc("/t/chunked-big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		f := http.NewResponseController(w)
		w.Write([]byte(`{"id":"chunked","pad":"`))
		_ = f.Flush() // no Content-Length: the length is unknown to the proxy
		for i := 0; i < 8; i++ {
			w.Write([]byte(strings.Repeat("y", 1<<10)))
			_ = f.Flush()
		}
		w.Write([]byte(`"}`))
	})
	mux.HandleFunc("/t/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("plain text, not JSON\n"))
	})
	mux.HandleFunc("/t/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Empty", "yes")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/t/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"id":"j1","echo":%q}`, body)
	})
	mux.HandleFunc("/t/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n")
		brw.Flush()
		// Echo one line, upper-cased, over the upgraded connection.
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprint(brw, strings.ToUpper(line))
		brw.Flush()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// sseAck lets the SSE client acknowledge each event it received.
var sseAck = make(chan struct{})

// stack is Caddy with the module on one site and plain reverse_proxy on
// another, both in front of the same upstream.
type stack struct {
	caddy    *testbed.Caddy
	up       *httptest.Server
	module   string // base URL of the site with the module
	plain    string // base URL of the plain reverse_proxy site
	config   string
	storage  string
	rulePath string
}

const testRules = `events:
  - name: order.created
    description: A new order was placed
    match: { method: POST, path: /api/orders, status: 201 }
    data:
      orderId: response.body._id
      orderNumber: response.body.orderNumber
      total: response.body.total
      via: request.headers.X-Client
    site: response.body.site
  - name: order.big
    match: { method: POST, path: /api/orders, status: 201 }
    when: request.body.total > 1000
    data:
      orderId: response.body._id
  - name: transparency.seen
    match: { method: [GET, POST, HEAD], path: /t/*, status: 2xx }
    data:
      id: response.body.id
`

// caddyfileFor returns a Caddyfile for a stack; extraGlobal goes into the
// webhooks global option.
func caddyfileFor(modulePort, plainPort int, upstreamAddr, rulesPath, extraGlobal string) string {
	return testbed.Global(extraGlobal) + fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
		max_body 4KiB
	}
	reverse_proxy %s
}
http://127.0.0.1:%d {
	reverse_proxy %s
}
`, modulePort, rulesPath, upstreamAddr, plainPort, upstreamAddr)
}

func startStack(t *testing.T, ruleText, extraGlobal string) *stack {
	t.Helper()
	up := upstream(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(ruleText), 0o600); err != nil {
		t.Fatal(err)
	}
	mp, pp := testbed.FreePort(t), testbed.FreePort(t)
	cfg := caddyfileFor(mp, pp, up.Listener.Addr().String(), rulePath, extraGlobal)
	c := testbed.StartCaddy(t, dir, cfg)
	return &stack{caddy: c, up: up, config: cfg, storage: filepath.Join(dir, "webhooks"), rulePath: rulePath,
		module: fmt.Sprintf("http://127.0.0.1:%d", mp), plain: fmt.Sprintf("http://127.0.0.1:%d", pp)}
}

// storedEvents stops nothing: it must be called once the Caddy process that
// owns the store has exited.
func storedEvents(t *testing.T, dir string) []webhook.Event {
	t.Helper()
	return encryptedEvents(t, dir, nil)
}

// encryptedEvents reads the events of a store (encrypted with key, if
// not nil) that no process has open.
func encryptedEvents(t *testing.T, dir string, key []byte) []webhook.Event {
	t.Helper()
	s, err := badgerstore.Open(badgerstore.Options{Dir: dir, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var evs []webhook.Event
	if err := s.EventsSince(context.Background(), time.Time{}, func(e webhook.Event) error { evs = append(evs, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return evs
}

// createdOrderIDs returns the orderIds of the stored order.created events.
func createdOrderIDs(t *testing.T, storage string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, e := range byName(storedEvents(t, storage), "order.created") {
		var d struct {
			OrderID string `json:"orderId"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %s: %v", e.ID, err)
		}
		ids[d.OrderID] = true
	}
	return ids
}

func byName(evs []webhook.Event, name string) []webhook.Event {
	var out []webhook.Event
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// logLines returns the decoded JSON log lines whose msg is msg.
func logLines(c *testbed.Caddy, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.Logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func post(t *testing.T, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}
