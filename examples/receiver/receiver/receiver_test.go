package receiver_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/examples/receiver/receiver"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

const (
	// stdSecret is the Standard Webhooks reference secret (24 bytes).
	stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// legacySecret fits sha256 and hex.
	legacySecret = "legacy-secret-0123456789"
	// body is a delivery as docs/delivery.md describes it, with spaces in data to
	// check that the line compacts it.
	body = `{"id":"evt_1","event":"order.created","timestamp":"2026-11-23T10:00:00.123Z","data":{"order_id": "o1", "total": 31}}`
)

// now is the fixed clock of every test.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// secretFor returns the test secret of scheme.
// secretFor is what a receiver of scheme holds: the shared secret, or for
// ed25519 the public key of edPrivate.
func secretFor(scheme string) string {
	switch scheme {
	case signer.Standard:
		return stdSecret
	case signer.Ed25519:
		pub, err := signer.PublicKey(edPrivate)
		if err != nil {
			panic(err)
		}
		return pub
	}
	return legacySecret
}

// signingKey is what Caddy signs deliveries of scheme with.
func signingKey(scheme string) string {
	if scheme == signer.Ed25519 {
		return edPrivate
	}
	return secretFor(scheme)
}

// edPrivate is an ed25519 private key: a fixed 32-byte seed.
var edPrivate = "whsk_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// lines is an io.Writer safe for concurrent use that collects lines.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// all returns the complete lines written so far.
func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSuffix(l.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// start serves a Receiver built from opts (Out and Now filled in) on an
// httptest server.
func start(t *testing.T, opts receiver.Options) (*receiver.Receiver, *httptest.Server, *lines) {
	t.Helper()
	out := &lines{}
	opts.Out = out
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	r := receiver.New(opts)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv, out
}

// signed returns the headers caddy-webhooks would send with payload under
// scheme: the signature ones plus the X-Webhook-* ones of every delivery.
func signed(t *testing.T, scheme, payload string, secrets ...string) http.Header {
	t.Helper()
	h, err := signer.Sign(scheme, signer.Message{ID: "evt_1", Timestamp: now, Body: []byte(payload)}, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "caddy-webhooks/test")
	h.Set("X-Webhook-Id", "sub_1")
	h.Set("X-Webhook-Event", "order.created")
	h.Set("X-Webhook-Timestamp", "2026-11-23T10:00:00.123Z")
	h.Set("X-Webhook-Attempt", "2")
	h.Set("Accept-Encoding", "identity") // not kept
	return h
}

// do sends a request and returns the status and the answer's body.
func do(t *testing.T, method, url string, h http.Header, payload string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, h)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestVerifiedEveryScheme(t *testing.T) {
	for _, scheme := range signer.Schemes() {
		for _, mode := range []string{receiver.Auto, scheme} {
			t.Run(scheme+"/"+mode, func(t *testing.T) {
				r, srv, out := start(t, receiver.Options{Secret: secretFor(scheme), Scheme: mode})
				status, _ := do(t, "POST", srv.URL+"/hooks/crm", signed(t, scheme, body, signingKey(scheme)), body)
				if status != http.StatusOK {
					t.Fatalf("status %d, want 200", status)
				}
				want := "verified " + scheme + ` order.created id=evt_1 attempt=2 sub=sub_1 data={"order_id":"o1","total":31}`
				if got := out.all(); !slices.Equal(got, []string{want}) {
					t.Fatalf("lines %q, want %q", got, want)
				}
				ds := r.Deliveries()
				if len(ds) != 1 {
					t.Fatalf("%d deliveries, want 1", len(ds))
				}
				d := ds[0]
				if !d.Verified || d.Error != "" || d.Scheme != scheme || d.Status != 200 ||
					d.Path != "/hooks/crm" || !d.ReceivedAt.Equal(now) || string(d.Body) != body {
					t.Fatalf("delivery %+v", d)
				}
				if d.Headers["X-Webhook-Attempt"] != "2" || d.Headers["User-Agent"] != "caddy-webhooks/test" {
					t.Fatalf("headers %q", d.Headers)
				}
				if _, ok := d.Headers["Accept-Encoding"]; ok {
					t.Fatalf("Accept-Encoding kept: %q", d.Headers)
				}
			})
		}
	}
}

func TestRejected(t *testing.T) {
	tampered := strings.Replace(body, "31", "13", 1)
	stale := func() time.Time { return now.Add(signer.Tolerance + time.Second) }
	for _, tc := range []struct {
		name    string
		opts    receiver.Options
		header  http.Header
		payload string
		want    string // substring of the reason
	}{
		{"standard wrong secret", receiver.Options{Secret: "whsec_" + strings.Repeat("A", 32)},
			signed(t, signer.Standard, body, stdSecret), body, "standard: signature mismatch"},
		{"sha256 wrong secret", receiver.Options{Secret: "another-secret-0123"},
			signed(t, signer.SHA256, body, legacySecret), body, "sha256: signature mismatch"},
		{"hex wrong secret", receiver.Options{Secret: "another-secret-0123"},
			signed(t, signer.Hex, body, legacySecret), body, "hex: signature mismatch"},
		{"standard tampered body", receiver.Options{Secret: stdSecret},
			signed(t, signer.Standard, body, stdSecret), tampered, "standard: signature mismatch"},
		{"sha256 tampered body", receiver.Options{Secret: legacySecret},
			signed(t, signer.SHA256, body, legacySecret), tampered, "sha256: signature mismatch"},
		{"hex tampered body", receiver.Options{Secret: legacySecret},
			signed(t, signer.Hex, body, legacySecret), tampered, "hex: signature mismatch"},
		{"missing signature auto", receiver.Options{Secret: legacySecret},
			http.Header{"X-Webhook-Id": {"sub_1"}}, body, "no signature: no webhook-signature or X-Webhook-Signature header"},
		{"missing signature forced", receiver.Options{Secret: legacySecret, Scheme: signer.Hex},
			http.Header{}, body, "hex: no signature"},
		{"standard stale", receiver.Options{Secret: stdSecret, Now: stale},
			signed(t, signer.Standard, body, stdSecret), body, "standard: bad timestamp"},
		{"forced scheme differs", receiver.Options{Secret: legacySecret, Scheme: signer.SHA256},
			signed(t, signer.Hex, body, legacySecret), body, `sha256: signature mismatch: X-Webhook-Signature is not "sha256=<hex>"`},
		{"secret unfit for detected scheme", receiver.Options{Secret: legacySecret},
			signed(t, signer.Standard, body, stdSecret), body, "standard: invalid secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, out := start(t, tc.opts)
			status, answer := do(t, "POST", srv.URL+"/", tc.header, tc.payload)
			if status != http.StatusUnauthorized || !strings.Contains(answer, tc.want) {
				t.Fatalf("answer %d %q, want 401 containing %q", status, answer, tc.want)
			}
			got := out.all()
			if len(got) != 1 || !strings.HasPrefix(got[0], "REJECTED ") || !strings.Contains(got[0], tc.want) {
				t.Fatalf("lines %q, want one REJECTED line containing %q", got, tc.want)
			}
			ds := r.Deliveries()
			if len(ds) != 1 || ds[0].Verified || ds[0].Status != 401 || !strings.Contains(ds[0].Error, tc.want) ||
				string(ds[0].Body) != tc.payload {
				t.Fatalf("deliveries %+v", ds)
			}
			if got[0] != "REJECTED "+ds[0].Error {
				t.Fatalf("line %q, want REJECTED + %q", got[0], ds[0].Error)
			}
		})
	}
}

func TestRotationPreviousSecret(t *testing.T) {
	_, srv, out := start(t, receiver.Options{Secret: stdSecret})
	h := signed(t, signer.Standard, body, "whsec_"+strings.Repeat("B", 32), stdSecret)
	if status, _ := do(t, "POST", srv.URL, h, body); status != 200 {
		t.Fatalf("status %d, lines %q", status, out.all())
	}
}

func TestDetectScheme(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want string
	}{
		{"standard", http.Header{"Webhook-Signature": {"v1,abc"}}, signer.Standard},
		{"standard wins over legacy", http.Header{"Webhook-Signature": {"v1,abc"}, "X-Webhook-Signature": {"sha256=00"}}, signer.Standard},
		{"sha256", http.Header{"X-Webhook-Signature": {"sha256=00ff"}}, signer.SHA256},
		{"hex", http.Header{"X-Webhook-Signature": {"00ff"}}, signer.Hex},
		{"SHA256= upper case is hex", http.Header{"X-Webhook-Signature": {"SHA256=00ff"}}, signer.Hex},
		{"none", http.Header{"X-Webhook-Id": {"sub_1"}}, ""},
		{"empty values", http.Header{"Webhook-Signature": {" "}, "X-Webhook-Signature": {""}}, ""},
	} {
		if got := receiver.DetectScheme(tc.h); got != tc.want {
			t.Errorf("%s: DetectScheme = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// jsonDelivery is a /deliveries element as a client sees it.
type jsonDelivery struct {
	ReceivedAt string            `json:"received_at"`
	Path       string            `json:"path"`
	Scheme     string            `json:"scheme"`
	Verified   bool              `json:"verified"`
	Error      string            `json:"error"`
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
}

// compact returns raw compacted: /deliveries re-indents bodies.
func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// getDeliveries fetches and decodes GET /deliveries.
func getDeliveries(t *testing.T, url string) []jsonDelivery {
	t.Helper()
	resp, err := http.Get(url + "/deliveries")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /deliveries: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ds []jsonDelivery
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDeliveriesJSON(t *testing.T) {
	_, srv, _ := start(t, receiver.Options{Secret: stdSecret})
	resp, err := http.Get(srv.URL + "/deliveries")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(raw)) != "[]" {
		t.Fatalf("empty list = %q, want []", raw)
	}

	do(t, "POST", srv.URL+"/a", signed(t, signer.Standard, body, stdSecret), body)
	do(t, "POST", srv.URL+"/b", http.Header{"User-Agent": {"curl"}}, "not json")
	ds := getDeliveries(t, srv.URL)
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
	ok, bad := ds[0], ds[1]
	if ok.ReceivedAt != "2026-11-23T10:00:00Z" || ok.Path != "/a" || ok.Scheme != "standard" || !ok.Verified ||
		ok.Error != "" || ok.Status != 200 || compact(t, ok.Body) != compact(t, []byte(body)) {
		t.Fatalf("first %+v", ok)
	}
	wantHeaders := []string{"Content-Type", "User-Agent", "Webhook-Id", "Webhook-Signature", "Webhook-Timestamp",
		"X-Webhook-Attempt", "X-Webhook-Event", "X-Webhook-Id", "X-Webhook-Timestamp"}
	if got := slices.Sorted(maps.Keys(ok.Headers)); !slices.Equal(got, wantHeaders) {
		t.Fatalf("header names %q, want %q", got, wantHeaders)
	}
	if ok.Headers["Webhook-Id"] != "evt_1" || !strings.HasPrefix(ok.Headers["Webhook-Signature"], "v1,") {
		t.Fatalf("headers %q", ok.Headers)
	}
	if bad.Path != "/b" || bad.Scheme != "" || bad.Verified || bad.Status != 401 || bad.Error == "" ||
		string(bad.Body) != `"not json"` || bad.Headers["User-Agent"] != "curl" {
		t.Fatalf("second %+v", bad)
	}

	if status, _ := do(t, "DELETE", srv.URL+"/deliveries", nil, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE /deliveries: %d", status)
	}
	if ds := getDeliveries(t, srv.URL); len(ds) != 0 {
		t.Fatalf("after DELETE: %d deliveries", len(ds))
	}
}

func TestKeepsLastDeliveries(t *testing.T) {
	for _, tc := range []struct{ keep, sent, want int }{
		{0, receiver.DefaultKeep + 5, receiver.DefaultKeep},
		{3, 5, 3},
		{1, 2, 1},
	} {
		r, srv, _ := start(t, receiver.Options{Secret: legacySecret, Keep: tc.keep})
		for i := range tc.sent {
			p := fmt.Sprintf(`{"id":"evt_%d"}`, i)
			do(t, "POST", srv.URL, signed(t, signer.Hex, p, legacySecret), p)
		}
		ds := r.Deliveries()
		if len(ds) != tc.want {
			t.Fatalf("keep %d: %d deliveries, want %d", tc.keep, len(ds), tc.want)
		}
		for i, d := range ds {
			if want := fmt.Sprintf(`{"id":"evt_%d"}`, tc.sent-tc.want+i); string(d.Body) != want {
				t.Fatalf("keep %d: delivery %d body %s, want %s", tc.keep, i, d.Body, want)
			}
		}
	}
}

func TestDeliveriesAreCopies(t *testing.T) {
	r, srv, _ := start(t, receiver.Options{Secret: legacySecret})
	do(t, "POST", srv.URL, signed(t, signer.Hex, body, legacySecret), body)
	d := r.Deliveries()[0]
	d.Headers["X-Webhook-Id"] = "changed"
	d.Body[0] = 'X'
	if again := r.Deliveries()[0]; again.Headers["X-Webhook-Id"] != "sub_1" || string(again.Body) != body {
		t.Fatalf("Deliveries shares memory: %+v", again)
	}
}

func TestConfiguredStatus(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusAccepted, http.StatusGone, http.StatusInternalServerError} {
		r, srv, out := start(t, receiver.Options{Secret: legacySecret, Status: status})
		got, _ := do(t, "POST", srv.URL, signed(t, signer.SHA256, body, legacySecret), body)
		if got != status || !strings.HasPrefix(out.all()[0], "verified sha256 ") || r.Deliveries()[0].Status != status {
			t.Fatalf("status %d: answered %d, lines %q", status, got, out.all())
		}
	}
}

func TestLineOddValues(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		header        http.Header
		want          string
	}{
		{"user_id string", `{"id":"e1","event":"order.paid","user_id":"u_42","data":{}}`, nil,
			`verified hex order.paid id=e1 attempt=- sub=- user_id=u_42 data={}`},
		{"user_id number", `{"id":"e1","event":"order.paid","user_id":42,"data":null}`, nil,
			`verified hex order.paid id=e1 attempt=- sub=- user_id=42 data=null`},
		{"spaces quoted", `{"id":"e 1","event":"a\nb","data":{"s":"x\ny"}}`, nil,
			`verified hex "a\nb" id="e 1" attempt=- sub=- data={"s":"x\ny"}`},
		{"no data", `{"id":"e1","event":"x"}`, nil,
			`verified hex x id=e1 attempt=- sub=- data=-`},
		{"not JSON: headers used", `hello`, http.Header{"X-Webhook-Event": {"ping"}, "X-Webhook-Attempt": {"1"}},
			`verified hex ping id=- attempt=1 sub=- data=-`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, out := start(t, receiver.Options{Secret: legacySecret, Scheme: signer.Hex})
			h, err := signer.Sign(signer.Hex, signer.Message{Body: []byte(tc.payload)}, legacySecret)
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(h, tc.header)
			if status, _ := do(t, "POST", srv.URL, h, tc.payload); status != 200 {
				t.Fatalf("status %d", status)
			}
			if got := out.all(); !slices.Equal(got, []string{tc.want}) {
				t.Fatalf("lines %q\nwant      %q", got, tc.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	_, srv, out := start(t, receiver.Options{Secret: legacySecret})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/health", 200},
		{"HEAD", "/health", 200},
		{"GET", "/deliveries", 200},
		{"GET", "/", 405},
		{"GET", "/hooks", 405},
		{"PUT", "/", 405},
		{"POST", "/health", 401}, // POST on any path is a delivery
	} {
		if got, _ := do(t, tc.method, srv.URL+tc.path, nil, ""); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
	if got := out.all(); len(got) != 1 {
		t.Fatalf("lines %q, want only the POST's", got)
	}
}

func TestBodyTooLarge(t *testing.T) {
	r, srv, out := start(t, receiver.Options{Secret: legacySecret})
	big := strings.Repeat("x", receiver.MaxBody+1)
	status, _ := do(t, "POST", srv.URL, signed(t, signer.Hex, big, legacySecret), big)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
	if got := out.all(); len(got) != 1 || !strings.HasPrefix(got[0], "REJECTED body larger than") {
		t.Fatalf("lines %q", got)
	}
	if d := r.Deliveries()[0]; d.Verified || d.Status != 413 || d.Body != nil {
		t.Fatalf("delivery %+v", d)
	}

	exact := strings.Repeat("x", receiver.MaxBody)
	if status, _ := do(t, "POST", srv.URL, signed(t, signer.Hex, exact, legacySecret), exact); status != 200 {
		t.Fatalf("5 MiB body: status %d, want 200", status)
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	r, srv, out := start(t, receiver.Options{Secret: stdSecret})
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p := fmt.Sprintf(`{"id":"evt_%d","event":"e","data":{"i":%d}}`, i, i)
			h, err := signer.Sign(signer.Standard, signer.Message{ID: fmt.Sprint("evt_", i), Timestamp: now, Body: []byte(p)}, stdSecret)
			if err != nil {
				t.Error(err)
				return
			}
			if status, _ := do(t, "POST", srv.URL, h, p); status != 200 {
				t.Errorf("delivery %d: status %d", i, status)
			}
			getDeliveries(t, srv.URL)
		})
	}
	wg.Wait()
	if len(out.all()) != n || len(r.Deliveries()) != n {
		t.Fatalf("%d lines, %d deliveries; want %d", len(out.all()), len(r.Deliveries()), n)
	}
}

func TestNilOut(t *testing.T) {
	r := receiver.New(receiver.Options{Secret: legacySecret})
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	maps.Copy(req.Header, signed(t, signer.Hex, body, legacySecret))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != 200 || !r.Deliveries()[0].Verified {
		t.Fatalf("status %d, deliveries %+v", w.Code, r.Deliveries())
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts receiver.Options
		want string // "" means valid
	}{
		{"auto whsec", receiver.Options{Secret: stdSecret}, ""},
		{"auto legacy", receiver.Options{Secret: legacySecret, Scheme: receiver.Auto}, ""},
		{"forced hex", receiver.Options{Secret: legacySecret, Scheme: signer.Hex, Status: 500}, ""},
		{"no secret", receiver.Options{}, "no secret"},
		{"short secret", receiver.Options{Secret: "short"}, "secret fits no scheme"},
		{"legacy secret for standard", receiver.Options{Secret: legacySecret, Scheme: signer.Standard}, "secret for standard"},
		{"unknown scheme", receiver.Options{Secret: legacySecret, Scheme: "sha512"}, `unknown scheme "sha512"`},
		{"status 199", receiver.Options{Secret: legacySecret, Status: 199}, "status 199"},
		{"status 600", receiver.Options{Secret: legacySecret, Status: 600}, "status 600"},
		{"negative keep", receiver.Options{Secret: legacySecret, Keep: -1}, "keep -1"},
	} {
		err := tc.opts.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}
