package caddymodule_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// midBodyRules has one rule that reads the response body and one that does
// not, so that both ways a response travels (held, or streamed with
// durability async) are covered.
const midBodyRules = `events:
  - name: mid.body
    match: { method: GET, path: /mid/body/*, status: 2xx }
    data:
      id: response.body.id
  - name: mid.nobody
    match: { method: GET, path: /mid/nobody/*, status: 2xx }
    data:
      path: request.path
`

// brokenUpstream is an app that answers in raw HTTP/1.1, so that it can
// break its responses mid-body the way a crashing app does. The last path
// element picks the answer; every connection is closed after one answer.
func brokenUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go answerBroken(conn)
		}
	}()
	return ln.Addr().String()
}

func answerBroken(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	const head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	switch filepath.Base(req.URL.Path) {
	case "ok": // a complete response: its event is stored
		body := `{"id":"ok"}`
		fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n%s", head, len(body), body)
	case "short": // 406 of the 1000 bytes announced
		body := `{"id":"short","pad":"`
		body += strings.Repeat("x", 406-len(body))
		fmt.Fprintf(conn, "%sContent-Length: 1000\r\n\r\n%s", head, body)
	case "chunked": // one chunk, then no last chunk
		chunk := `{"id":"chunked","pad":"` + strings.Repeat("y", 100)
		fmt.Fprintf(conn, "%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", head, len(chunk), chunk)
	case "gzip", "gzip-ae": // says gzip, is not
		body := `{"id":"not gzip at all"}`
		fmt.Fprintf(conn, "%sContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", head, len(body), body)
	default:
		fmt.Fprint(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	}
}

// rawGet sends a GET on a new connection and returns every byte that came
// back until the server closed it, without the Date header (the only one
// that differs between two answers).
func rawGet(t *testing.T, base, path string, hdr ...string) string {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", path, addr)
	for i := 0; i+1 < len(hdr); i += 2 {
		req += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("GET %s%s: reading until the server closes: %v (after %q)", base, path, err, got)
	}
	return dateHeader.ReplaceAllString(string(got), "")
}

var dateHeader = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// TestTransparencyUpstreamFailsMidBody breaks responses after their
// headers — a body shorter than its Content-Length, a chunked body without
// its last chunk, a body labelled gzip that is not (which Caddy's transport
// fails to decompress when it asked for gzip itself) — and checks that the
// client receives, byte for byte, what plain reverse_proxy gives it (the
// status, the headers and the bytes that came, then the connection is cut),
// with either durability and whether or not the rule reads the body; and
// that no event is stored for a response that never completed.
func TestTransparencyUpstreamFailsMidBody(t *testing.T) { //nolint:tparallel // serial like this package's other tests with Caddy processes; its two subtests run side by side
	up := brokenUpstream(t)
	for _, durability := range []string{"sync", "async"} {
		t.Run(durability, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rulePath := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(rulePath, []byte(midBodyRules), 0o600); err != nil {
				t.Fatal(err)
			}
			mp, pp := testbed.FreePort(t), testbed.FreePort(t)
			c := testbed.StartCaddy(t, dir, caddyfileFor(mp, pp, up, rulePath, "durability "+durability))
			module, plain := fmt.Sprintf("http://127.0.0.1:%d", mp), fmt.Sprintf("http://127.0.0.1:%d", pp)

			cases := []struct {
				name       string
				hdr        []string
				skipReason string // the event_skipped reason logged, if any
				needsBody  bool   // the skip applies only to the rule that reads the body
				stored     bool   // the nobody rule's event is stored
			}{
				{name: "ok", stored: true},
				{name: "short", skipReason: "response_incomplete"},
				{name: "chunked", skipReason: "response_incomplete"},
				{name: "gzip", skipReason: "response_incomplete"},
				// The client asked for gzip: the transport passes the
				// body through, the response is complete; only a rule
				// that reads the body cannot use it.
				{name: "gzip-ae", hdr: []string{"Accept-Encoding", "gzip"}, skipReason: "response_body_not_decodable", needsBody: true, stored: true},
			}
			want := map[string]bool{`mid.body {"id":"ok"}`: true}
			for _, rule := range []string{"body", "nobody"} {
				for _, tc := range cases {
					path := "/mid/" + rule + "/" + tc.name
					t.Run(rule+"/"+tc.name, func(t *testing.T) {
						before := len(logLines(c, "event_skipped"))
						got := rawGet(t, module, path, tc.hdr...)
						exp := rawGet(t, plain, path, tc.hdr...)
						if got != exp {
							t.Errorf("the client got through the module:\n%q\nthrough plain reverse_proxy:\n%q", got, exp)
						}
						if !strings.HasPrefix(exp, "HTTP/1.1 200 OK\r\n") {
							t.Fatalf("the upstream's case is broken: plain reverse_proxy answered %q", exp)
						}
						if tc.skipReason == "" || (tc.needsBody && rule == "nobody") {
							return
						}
						// With durability async and a rule that does not
						// read the body, the response streams and the
						// handler logs after the connection is cut.
						testbed.Eventually(t, 15*time.Second, "event_skipped "+tc.skipReason+" for "+path, func() bool {
							for _, l := range logLines(c, "event_skipped")[before:] {
								if l["reason"] == tc.skipReason && l["path"] == path && l["event"] == "mid."+rule {
									return true
								}
							}
							return false
						})
					})
					if tc.stored && rule == "nobody" {
						want[fmt.Sprintf(`mid.nobody {"path":%q}`, path)] = true
					}
				}
			}
			c.Stop()
			got := map[string]bool{}
			for _, e := range storedEvents(t, filepath.Join(dir, "webhooks")) {
				got[e.Name+" "+string(e.Data)] = true
			}
			if !equalSets(got, want) {
				t.Errorf("stored events:\n%v\nwant only the complete responses':\n%v", keys(got), keys(want))
			}
		})
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
