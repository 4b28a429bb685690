package webhook

import (
	"fmt"
	"strings"
	"testing"
)

// TestValidateHeaders checks each refused header, case-insensitively, the
// limits on count and size, and that ordinary headers pass.
func TestValidateHeaders(t *testing.T) {
	many := map[string]string{}
	for i := range MaxHeaders {
		many[fmt.Sprintf("X-H%d", i)] = "v"
	}
	tooMany := map[string]string{"X-One-More": "v"}
	for k, v := range many {
		tooMany[k] = v
	}
	// 4 values of 4 KiB and their names: just over 16 KiB together.
	big := map[string]string{}
	for i := range 4 {
		big[fmt.Sprintf("X-Big%d", i)] = strings.Repeat("v", MaxHeaderValueBytes)
	}
	cases := []struct {
		name    string
		headers map[string]string
		want    string // a part of the message; "" = valid
	}{
		{"none", nil, ""},
		{"custom", map[string]string{"X-Custom": "1", "Authorization": "Bearer t", "Cookie": "a=b"}, ""},
		{"exactly the limit of headers", many, ""},
		{"name at the limit", map[string]string{"X-" + strings.Repeat("n", MaxHeaderNameBytes-2): "v"}, ""},
		{"value at the limit", map[string]string{"X-A": strings.Repeat("v", MaxHeaderValueBytes)}, ""},
		{"content-type", map[string]string{"content-type": "text/plain"}, "set by delivery"},
		{"user-agent", map[string]string{"USER-AGENT": "x"}, "set by delivery"},
		{"x-webhook-id", map[string]string{"X-Webhook-Id": "x"}, "set by delivery"},
		{"x-webhook-event", map[string]string{"x-webhook-event": "x"}, "set by delivery"},
		{"x-webhook-timestamp", map[string]string{"X-WEBHOOK-TIMESTAMP": "x"}, "set by delivery"},
		{"x-webhook-attempt", map[string]string{"X-Webhook-Attempt": "9"}, "set by delivery"},
		{"x-webhook-signature", map[string]string{"x-webhook-signature": "x"}, "set by delivery"},
		{"webhook-id", map[string]string{"webhook-id": "msg_1"}, "set by delivery"},
		{"webhook-timestamp", map[string]string{"Webhook-Timestamp": "1"}, "set by delivery"},
		{"webhook-signature", map[string]string{"WEBHOOK-SIGNATURE": "v1,x"}, "set by delivery"},
		{"host", map[string]string{"host": "evil.example"}, "HTTP client"},
		{"content-length", map[string]string{"Content-Length": "0"}, "HTTP client"},
		{"transfer-encoding", map[string]string{"transfer-encoding": "chunked"}, "HTTP client"},
		{"accept-encoding", map[string]string{"Accept-Encoding": "br"}, "HTTP client"},
		{"content-encoding", map[string]string{"content-encoding": "gzip"}, "misdescribe the body"},
		{"expect", map[string]string{"Expect": "100-continue"}, "connection"},
		{"connection", map[string]string{"CONNECTION": "close"}, "connection"},
		{"keep-alive", map[string]string{"keep-alive": "timeout=5"}, "connection"},
		{"te", map[string]string{"te": "trailers"}, "connection"},
		{"trailer", map[string]string{"Trailer": "X-A"}, "connection"},
		{"upgrade", map[string]string{"upgrade": "websocket"}, "connection"},
		{"proxy-authorization", map[string]string{"Proxy-Authorization": "Basic x"}, "connection"},
		{"proxy-connection", map[string]string{"proxy-connection": "keep-alive"}, "connection"},
		{"proxy-anything", map[string]string{"PROXY-Foo": "x"}, "connection"},
		{"bad name", map[string]string{"a b": "x"}, "not a valid header name"},
		{"pseudo-header", map[string]string{":authority": "x"}, "not a valid header name"},
		{"empty name", map[string]string{"": "x"}, "not a valid header name"},
		{"line break", map[string]string{"X-A": "a\r\nX-Injected: b"}, "line break"},
		{"same header twice", map[string]string{"X-A": "a", "x-a": "b"}, "same header"},
		{"too many", tooMany, "at most 32 headers"},
		{"name too long", map[string]string{"X-" + strings.Repeat("n", MaxHeaderNameBytes-1): "v"}, "longer than 256 bytes"},
		{"value too long", map[string]string{"X-A": strings.Repeat("v", MaxHeaderValueBytes+1)}, "longer than 4096 bytes"},
		{"too big together", big, "at most 16384 bytes"},
	}
	for _, tc := range cases {
		got := validateHeaders(tc.headers)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: refused: %s", tc.name, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: message %q, want one containing %q", tc.name, got, tc.want)
		}
	}
}
