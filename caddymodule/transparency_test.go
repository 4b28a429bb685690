package caddymodule_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// exchange is what a client saw of one response.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// do sends the same request and returns what came back, with the headers
// that differ between any two responses (Date) removed.
func do(t *testing.T, method, url, body string, hdr map[string]string) exchange {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// Ask for gzip explicitly so the transport leaves the body encoded:
	// the test compares the bytes on the wire.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return exchange{resp.StatusCode, h, b}
}

func TestTransparency(t *testing.T) {
	s := startStack(t, testRules, "")
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		skipReason               string // the event_skipped reason this case must log, if any
	}{
		{name: "gzip json", method: "GET", path: "/t/gzip", hdr: map[string]string{"Accept-Encoding": "gzip"}},
		{name: "body over max_body", method: "GET", path: "/t/big", skipReason: "response_body_too_large"},
		{name: "chunked body over max_body", method: "GET", path: "/t/chunked-big", skipReason: "response_body_too_large"},
		{name: "non-JSON body", method: "GET", path: "/t/text", skipReason: "response_body_not_json"},
		{name: "HEAD", method: "HEAD", path: "/t/json"},
		{name: "204", method: "GET", path: "/t/nocontent", skipReason: "response_body_not_json"},
		{name: "POST echo", method: "POST", path: "/t/json", body: `{"a":1}`},
		{name: "request body over max_body", method: "POST", path: "/t/json", body: strings.Repeat("z", 5000)},
		{name: "no match passes through", method: "GET", path: "/api/orders/42"},
		{name: "upstream 404", method: "GET", path: "/t/missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logLines(s.caddy, "event_skipped"))
			got := do(t, tc.method, s.module+tc.path, tc.body, tc.hdr)
			want := do(t, tc.method, s.plain+tc.path, tc.body, tc.hdr)
			if got.status != want.status {
				t.Errorf("status: module %d, plain %d", got.status, want.status)
			}
			if !reflect.DeepEqual(got.header, want.header) {
				t.Errorf("headers differ:\nmodule %v\nplain  %v", got.header, want.header)
			}
			if string(got.body) != string(want.body) {
				t.Errorf("body differs: module %d bytes, plain %d bytes", len(got.body), len(want.body))
			}
			if tc.skipReason != "" {
				var reasons []any
				ok := false
				for _, l := range logLines(s.caddy, "event_skipped")[before:] {
					reasons = append(reasons, l["reason"])
					ok = ok || l["reason"] == tc.skipReason
				}
				if !ok {
					t.Errorf("no event_skipped with reason %q logged; got %v", tc.skipReason, reasons)
				}
			}
		})
	}
	s.caddy.Stop()
	// The gzip body was decoded for extraction, so its event has its id.
	var ids []string
	for _, e := range byName(storedEvents(t, s.storage), "transparency.seen") {
		ids = append(ids, string(e.Data))
	}
	if !contains(ids, `{"id":"gz1"}`) {
		t.Errorf("no event extracted from the gzip body; events: %v", ids)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTransparencyEventStream checks that a text/event-stream response
// arrives event by event through the module, as through plain
// reverse_proxy: the upstream sends the next event only after the client
// has read the previous one, so a buffered stream would deadlock.
func TestTransparencyEventStream(t *testing.T) {
	s := startStack(t, testRules, "")
	for _, base := range []string{s.module, s.plain} {
		resp, err := http.Get(base + "/t/sse")
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("%s: content-type %q", base, ct)
		}
		r := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			line, err := readWithin(r, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: event %d did not arrive on its own: %v", base, i, err)
			}
			if want := fmt.Sprintf("data: {\"id\":%d}\n", i); line != want {
				t.Fatalf("%s: got %q, want %q", base, line, want)
			}
			if _, err := readWithin(r, 5*time.Second); err != nil { // blank line
				t.Fatal(err)
			}
			sseAck <- struct{}{}
		}
		// Read to the end of the stream so that it ends normally rather
		// than by the client going away.
		if _, err := io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The handler logs once the stream has ended, after the client's read.
	testbed.Eventually(t, 10*time.Second, "the stream's event logged as skipped (response_is_stream)", func() bool {
		for _, l := range logLines(s.caddy, "event_skipped") {
			if l["reason"] == "response_is_stream" {
				return true
			}
		}
		return false
	})
}

func readWithin(r *bufio.Reader, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := r.ReadString('\n'); ch <- res{s, err} }()
	select {
	case x := <-ch:
		return x.s, x.err
	case <-time.After(d):
		return "", fmt.Errorf("nothing within %s", d)
	}
}

// TestTransparencyWebsocket upgrades a connection through the module and
// talks over it.
func TestTransparencyWebsocket(t *testing.T) {
	s := startStack(t, testRules, "")
	for _, base := range []string{s.module, s.plain} {
		u, _ := url.Parse(base)
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /t/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", u.Host)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "test" {
			t.Fatalf("%s: upgrade answered %d %v", base, resp.StatusCode, resp.Header)
		}
		fmt.Fprint(conn, "hello over the socket\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "HELLO OVER THE SOCKET\n" {
			t.Fatalf("%s: echo %q, %v", base, line, err)
		}
		conn.Close()
	}
}
