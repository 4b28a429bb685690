package caddymodule

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/klauspost/compress/zstd"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

func compileTestRules(t testing.TB, src string) *rules.Set {
	t.Helper()
	specs, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const orderRule = `events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    data: { id: response.body._id }
`

// TestNoMatchDoesNotAllocate: a request that no rule can match costs the
// module no allocation at all.
func TestNoMatchDoesNotAllocate(t *testing.T) {
	h := &Handler{set: compileTestRules(t, orderRule), MaxBody: defaultMaxBody}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil })
	w := httptest.NewRecorder()
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/api/orders", nil),
		httptest.NewRequest(http.MethodPost, "/api/products/1", nil),
	} {
		if n := testing.AllocsPerRun(1000, func() { _ = h.ServeHTTP(w, r, next) }); n != 0 {
			t.Errorf("%s %s: %v allocations per request", r.Method, r.URL.Path, n)
		}
	}
}

func BenchmarkServeHTTPNoMatch(b *testing.B) {
	h := &Handler{set: compileTestRules(b, orderRule), MaxBody: defaultMaxBody}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil })
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/products/1", nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = h.ServeHTTP(w, r, next)
	}
}

func TestSpillRecorder(t *testing.T) {
	cases := []struct {
		name      string
		writes    []string
		buffer    bool
		wantSpill bool
	}{
		{"fits", []string{"abc", "def"}, true, false},
		{"exactly the limit", []string{"abcd", "efgh"}, true, false},
		{"passes the limit", []string{"abcd", "efgh", "i"}, true, true},
		{"first write too big", []string{"abcdefghijk"}, true, true},
		{"not buffered", []string{"abcdefghijk"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			var buf bytes.Buffer
			rec := newSpillRecorder(w, &buf, func(int, http.Header) bool { return tc.buffer }, 8)
			rec.WriteHeader(http.StatusCreated)
			all := strings.Join(tc.writes, "")
			for _, s := range tc.writes {
				if n, err := rec.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("write %q: %d %v", s, n, err)
				}
			}
			if rec.spilled != tc.wantSpill {
				t.Fatalf("spilled = %v, want %v", rec.spilled, tc.wantSpill)
			}
			if rec.Buffered() && !rec.spilled {
				if w.Body.Len() != 0 {
					t.Fatalf("held response reached the client early: %q", w.Body)
				}
				if err := rec.WriteResponse(); err != nil {
					t.Fatal(err)
				}
			}
			if w.Code != http.StatusCreated || w.Body.String() != all {
				t.Errorf("client got %d %q, want 201 %q", w.Code, w.Body, all)
			}
		})
	}
}

func TestBodyCapture(t *testing.T) {
	cases := []struct {
		name, body string
		cl         int64
		limit      int64
		readAll    bool
		want       string
		reason     rules.SkipReason
	}{
		{"whole", `{"a":1}`, 7, 100, true, `{"a":1}`, ""},
		{"chunked", `{"a":1}`, -1, 100, true, `{"a":1}`, ""},
		{"over limit while streaming", strings.Repeat("x", 50), -1, 10, true, "", "request_body_too_large"},
		{"declared over limit", strings.Repeat("x", 50), 50, 10, true, "", "request_body_too_large"},
		{"not read by upstream", `{"a":1}`, -1, 100, false, "", "request_body_incomplete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.ContentLength = tc.cl
			c, reason := captureBody(r, tc.limit)
			if reason == "" {
				if tc.readAll {
					got, _ := io.ReadAll(r.Body)
					if string(got) != tc.body {
						t.Fatalf("upstream read %q, want %q", got, tc.body)
					}
				}
				var b []byte
				b, reason = c.result(tc.cl)
				if string(b) != tc.want {
					t.Errorf("captured %q, want %q", b, tc.want)
				}
			}
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	plain := []byte(`{"id":"x","n":[1,2,3]}`)
	var gz, zl, br, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw := zlib.NewWriter(&zl)
	zw.Write(plain)
	zw.Close()
	bw := brotli.NewWriter(&br)
	bw.Write(plain)
	bw.Close()
	sw, _ := zstd.NewWriter(&zs)
	sw.Write(plain)
	sw.Close()
	bomb := new(bytes.Buffer)
	bwz := gzip.NewWriter(bomb)
	bwz.Write(bytes.Repeat([]byte("a"), 10000))
	bwz.Close()
	cases := []struct {
		enc    string
		body   []byte
		want   []byte
		reason rules.SkipReason
	}{
		{"", plain, plain, ""},
		{"identity", plain, plain, ""},
		{"gzip", gz.Bytes(), plain, ""},
		{"GZIP", gz.Bytes(), plain, ""},
		{"deflate", zl.Bytes(), plain, ""},
		{"br", br.Bytes(), plain, ""},
		{"zstd", zs.Bytes(), plain, ""},
		{"gzip", plain, nil, "response_body_not_decodable"},
		{"compress", plain, nil, "response_body_encoding_unsupported"},
		{"gzip", bomb.Bytes(), nil, "response_body_too_large"},
	}
	for _, tc := range cases {
		got, reason := decode(tc.enc, tc.body, 1000, rules.ResponseBody)
		if reason != tc.reason || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %q %q, want %q %q", tc.enc, got, reason, tc.want, tc.reason)
		}
	}
}

// TestValidateMode: mode is live, shadow or unset; anything else is
// refused, naming the field and the values it takes.
func TestValidateMode(t *testing.T) {
	for _, mode := range []string{"", ModeLive, ModeShadow} {
		if err := (&Handler{Mode: mode}).Validate(); err != nil {
			t.Errorf("mode %q: %v", mode, err)
		}
	}
	err := (&Handler{Mode: "dry"}).Validate()
	if err == nil || !strings.Contains(err.Error(), `mode must be "live" or "shadow", got "dry"`) {
		t.Errorf("mode dry: %v", err)
	}
}
