package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
)

var updateHAR = flag.Bool("update-har", false, "write the demo session to "+demoHAR)

// demoHAR is the recording of the demo session that `caddy webhooks test`
// is tested on (package dryrun, a module of its own).
const demoHAR = "../../dryrun/testdata/demo.har"

// TestDemoHAR records a session with the shop as a browser's developer
// tools would export it (HAR 1.2): a customer signs up and edits their
// profile, places an order, Stripe confirms the payment (and delivers it
// again), an admin ships it, with failed requests and reads in between.
// With -update-har it writes the file; otherwise it checks that the
// committed file is still the session the shop gives (its requests and
// statuses: ids and times change with every run).
func TestDemoHAR(t *testing.T) {
	rec := &harRecorder{app: shop.New()}
	demoSession(t, rec)
	if *updateHAR {
		b, err := json.MarshalIndent(rec.har(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(demoHAR, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(demoHAR)
	if err != nil {
		t.Fatalf("%v (go test -run TestDemoHAR -update-har writes it)", err)
	}
	got := gjson.GetBytes(committed, "log.entries")
	if n := len(got.Array()); n != len(rec.entries) {
		t.Fatalf("%s has %d entries, the session %d: go test -run TestDemoHAR -update-har", filepath.Base(demoHAR), n, len(rec.entries))
	}
	for i, e := range got.Array() {
		was := fmt.Sprint(e.Get("request.method"), " ", shape(e.Get("request.url").String()), " ", e.Get("response.status"))
		now := fmt.Sprint(rec.entries[i].Request.Method, " ", shape(rec.entries[i].Request.URL), " ", rec.entries[i].Response.Status)
		if was != now {
			t.Errorf("entry %d: %s in the file, %s in the session: go test -run TestDemoHAR -update-har", i, was, now)
		}
	}
}

// objectID matches the shop's ids, which change with every run.
var objectID = regexp.MustCompile(`[0-9a-f]{24}`)

func shape(url string) string { return objectID.ReplaceAllString(url, "{id}") }

// demoSession is the recorded session; each call checks the shop's status.
func demoSession(t *testing.T, rec *harRecorder) {
	// An order placed before the recording started (before Caddy was put
	// in front of the shop): the session changes its status with no state
	// nor GET of it recorded.
	before := rec.direct(t, "POST", "/api/orders", `{"customer":{"email":"old@example.ch","name":"Olga"},"items":[{"sku":"A","name":"Pen","quantity":1,"price":4.5}],"site":"site-1"}`)
	rec.do(t, "GET", "/api/health", "", 200, nil)
	cust := rec.do(t, "POST", "/api/customers", `{"email":"jean@example.ch","password":"s3cret-pass","firstName":"Jean","lastName":"Muller","site":"site-2"}`, 201, nil)
	rec.do(t, "POST", "/api/customers", `{"email":"jean@example.ch","password":"other-pass","firstName":"J"}`, 409, nil)
	rec.do(t, "PUT", "/api/customers/"+cust.Get("_id").String(), `{"lastName":"Müller","phone":"+41 79 000 00 00"}`, 200, nil)
	order := rec.do(t, "POST", "/api/orders", `{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"MUG","name":"Mug","quantity":2,"price":15.5}],"site":"site-1"}`, 201, nil)
	id := order.Get("_id").String()
	rec.do(t, "POST", "/api/orders", `{"customer":{"email":"x@example.ch"},"items":[]}`, 400, nil)
	rec.do(t, "GET", "/api/orders/"+id, "", 200, nil)
	stripe := `{"id":"evt_1","type":"checkout.session.completed","created":1795420800,"data":{"object":{"id":"cs_1","amount_total":3100,"currency":"chf","payment_intent":"pi_1","metadata":{"orderId":"` + id + `"}}}}`
	stripeHeader := http.Header{"User-Agent": {"Stripe/1.0 (+https://stripe.com/docs/webhooks)"}, "Stripe-Signature": {"t=1795420800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"}}
	rec.do(t, "POST", "/api/webhooks/stripe", stripe, 200, stripeHeader)
	rec.do(t, "GET", "/api/orders/"+id, "", 200, nil)
	rec.do(t, "POST", "/api/webhooks/stripe", stripe, 200, stripeHeader) // Stripe's redelivery
	rec.do(t, "PUT", "/api/orders/"+id+"/status", `{"status":"processing"}`, 200, nil)
	rec.do(t, "PUT", "/api/orders/"+id+"/status", `{"status":"processing"}`, 200, nil) // no change
	rec.do(t, "PATCH", "/api/orders/"+id+"/status", `{"status":"shipped","trackingNumber":"99.00.1234","trackingUrl":"https://post.ch/t/99.00.1234"}`, 200, nil)
	rec.do(t, "PUT", "/api/orders/ffffffffffffffffffffffff/status", `{"status":"shipped"}`, 404, nil)
	rec.do(t, "PUT", "/api/orders/"+before.Get("_id").String()+"/status", `{"status":"cancelled"}`, 200, nil)
	rec.do(t, "GET", "/api/orders?status=shipped", "", 200, nil)
}

// harRecorder serves requests with the shop and records them as HAR
// entries.
type harRecorder struct {
	app     http.Handler
	entries []harEntry
}

// do sends a request as a browser through Caddy on localhost:8080 would,
// records it and returns the answer's JSON.
func (rec *harRecorder) do(t *testing.T, method, path, body string, want int, header http.Header) gjson.Result {
	t.Helper()
	req := httptest.NewRequest(method, "http://localhost:8080"+path, strings.NewReader(body))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, v := range header {
		req.Header[name] = v
	}
	w := httptest.NewRecorder()
	started := time.Now()
	rec.app.ServeHTTP(w, req)
	if w.Code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, w.Code, w.Body, want)
	}
	rec.entries = append(rec.entries, newHAREntry(started, time.Since(started), req, body, w))
	return gjson.ParseBytes(w.Body.Bytes())
}

// direct sends a request that the recording does not see.
func (rec *harRecorder) direct(t *testing.T, method, path, body string) gjson.Result {
	t.Helper()
	w := httptest.NewRecorder()
	rec.app.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	if w.Code/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return gjson.ParseBytes(w.Body.Bytes())
}

func (rec *harRecorder) har() harFile {
	var f harFile
	f.Log.Version = "1.2"
	f.Log.Creator = harCreator{Name: "caddy-webhooks examples/shop TestDemoHAR", Version: "1"}
	f.Log.Entries = rec.entries
	return f
}

// The HAR 1.2 fields that a browser writes (required ones included).
type (
	harFile struct {
		Log struct {
			Version string     `json:"version"`
			Creator harCreator `json:"creator"`
			Entries []harEntry `json:"entries"`
		} `json:"log"`
	}
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harEntry struct {
		StartedDateTime string      `json:"startedDateTime"`
		Time            int         `json:"time"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		Cache           struct{}    `json:"cache"`
		Timings         harTimings  `json:"timings"`
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Cookies     []harNV      `json:"cookies"`
		Headers     []harNV      `json:"headers"`
		QueryString []harNV      `json:"queryString"`
		PostData    *harPostData `json:"postData,omitempty"`
		HeadersSize int          `json:"headersSize"`
		BodySize    int          `json:"bodySize"`
	}
	harPostData struct {
		MimeType string `json:"mimeType"`
		Text     string `json:"text"`
	}
	harResponse struct {
		Status      int        `json:"status"`
		StatusText  string     `json:"statusText"`
		HTTPVersion string     `json:"httpVersion"`
		Cookies     []harNV    `json:"cookies"`
		Headers     []harNV    `json:"headers"`
		Content     harContent `json:"content"`
		RedirectURL string     `json:"redirectURL"`
		HeadersSize int        `json:"headersSize"`
		BodySize    int        `json:"bodySize"`
	}
	harContent struct {
		Size     int    `json:"size"`
		MimeType string `json:"mimeType"`
		Text     string `json:"text"`
	}
	harTimings struct {
		Send    int `json:"send"`
		Wait    int `json:"wait"`
		Receive int `json:"receive"`
	}
)

func newHAREntry(at time.Time, took time.Duration, req *http.Request, body string, w *httptest.ResponseRecorder) harEntry {
	ms := int(took.Milliseconds())
	e := harEntry{StartedDateTime: at.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Time: ms, Timings: harTimings{Wait: ms}}
	e.Request = harRequest{Method: req.Method, URL: req.URL.String(), HTTPVersion: "HTTP/1.1", Cookies: []harNV{},
		Headers: harHeaders(req.Header, req.Host), QueryString: []harNV{}, HeadersSize: -1, BodySize: len(body)}
	q := req.URL.Query()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[name] {
			e.Request.QueryString = append(e.Request.QueryString, harNV{Name: name, Value: v})
		}
	}
	if body != "" {
		e.Request.PostData = &harPostData{MimeType: req.Header.Get("Content-Type"), Text: body}
	}
	e.Response = harResponse{Status: w.Code, StatusText: http.StatusText(w.Code), HTTPVersion: "HTTP/1.1", Cookies: []harNV{},
		Headers: harHeaders(w.Header(), ""), Content: harContent{Size: w.Body.Len(), MimeType: w.Header().Get("Content-Type"), Text: w.Body.String()},
		HeadersSize: -1, BodySize: w.Body.Len()}
	return e
}

// harHeaders lists headers in a stable order, Host first as a browser
// sends it.
func harHeaders(h http.Header, host string) []harNV {
	out := []harNV{}
	if host != "" {
		out = append(out, harNV{Name: "Host", Value: host})
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			out = append(out, harNV{Name: name, Value: v})
		}
	}
	return out
}
