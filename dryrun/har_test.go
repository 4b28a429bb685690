package dryrun

import (
	"encoding/base64"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// harOf wraps entries (JSON objects) in a HAR file.
func harOf(entries ...string) string {
	return `{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[` + strings.Join(entries, ",") + `]}}`
}

func TestReadHAR(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"id":"42"}`))
	xs, err := ReadHAR(strings.NewReader("\xef\xbb\xbf" + harOf(
		`{"request":{"method":"POST","url":"https://shop.example/api/orders?x=1&y=%C3%A9",
		   "headers":[{"name":"host","value":"shop.example"},{"name":":authority","value":"shop.example"},
		              {"name":"content-type","value":"application/json"},{"name":"x-tag","value":"a"},{"name":"X-Tag","value":"b"}],
		   "postData":{"mimeType":"application/json","text":"{\"total\":3}"},"bodySize":11},
		  "response":{"status":201,"headers":[{"name":"content-type","value":"application/json"}],
		   "content":{"size":11,"mimeType":"application/json","text":"`+b64+`","encoding":"base64"},"bodySize":11}}`,
		`{"request":{"method":"POST","url":"http://localhost/login","headers":[],
		   "postData":{"mimeType":"application/x-www-form-urlencoded; charset=UTF-8","params":[{"name":"user","value":"a b"},{"name":"tag","value":"1"},{"name":"tag","value":"2"}]}},
		  "response":{"status":302,"headers":[],"content":{"size":0,"mimeType":""}}}`,
		`{"request":{"method":"PUT","url":"http://localhost","bodySize":120},
		  "response":{"status":200,"content":{"size":300,"mimeType":"application/json"},"bodySize":-1}}`,
		`{"request":{"method":"GET","url":"http://localhost/gone"},"response":{"status":0,"content":{"size":0}}}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 4 {
		t.Fatalf("%d exchanges, want 4", len(xs))
	}
	x := xs[0]
	switch {
	case x.Index != 0 || x.Method != "POST" || x.URL.Path != "/api/orders" || x.URL.Query().Get("y") != "é":
		t.Errorf("request line: %d %s %s", x.Index, x.Method, x.URL)
	case x.RequestLine() != "POST /api/orders?x=1&y=%C3%A9":
		t.Errorf("RequestLine %q", x.RequestLine())
	case x.Header.Get("Host") != "" || len(x.Header) != 2 || strings.Join(x.Header.Values("X-Tag"), ",") != "a,b":
		t.Errorf("headers (canonical, no Host, no pseudo-headers): %v", x.Header)
	case string(x.Body) != `{"total":3}` || x.BodyMissing:
		t.Errorf("body %q missing %v", x.Body, x.BodyMissing)
	case x.Status != 201 || x.RespHeader.Get("Content-Type") != "application/json" || string(x.RespBody) != `{"id":"42"}`:
		t.Errorf("response: %d %v %q", x.Status, x.RespHeader, x.RespBody)
	}
	if x := xs[1]; string(x.Body) != "tag=1&tag=2&user=a+b" || x.BodyMissing || x.RespBodyMissing {
		t.Errorf("form params: body %q missing %v/%v", x.Body, x.BodyMissing, x.RespBodyMissing)
	}
	if x := xs[2]; x.URL.Path != "/" || x.Body != nil || !x.BodyMissing || x.RespBody != nil || !x.RespBodyMissing {
		t.Errorf("bodies not recorded: path %q body %q missing %v/%v", x.URL.Path, x.Body, x.BodyMissing, x.RespBodyMissing)
	}
	if x := xs[3]; x.Index != 3 || x.Status != 0 || x.RespBodyMissing {
		t.Errorf("aborted request: %+v", x)
	}
}

func TestReadHARErrors(t *testing.T) {
	ok := `{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"content":{"size":0}}}`
	for _, tc := range []struct{ har, want string }{
		{``, "not a HAR file: empty"},
		{`<html>`, "not a HAR file: invalid character '<' looking for beginning of value (at byte 1)"},
		{`{"log":{"version":"1.2"}}`, "not a HAR file: no log.entries"},
		{`{"entries":[]}`, "not a HAR file: no log.entries"},
		{`{"log":{"entries":{}}}`, "not a HAR file: json: cannot unmarshal object into Go struct field .log.entries of type []json.RawMessage"},
		{harOf(ok, `{"request":{"url":"http://h/"},"response":{"status":200}}`), "entry 1: request.method is missing"},
		{harOf(`{"request":{"method":"GET","url":"http://h/%zz"},"response":{"status":200}}`), `entry 0: request.url: parse "http://h/%zz": invalid URL escape "%zz"`},
		{harOf(`{"request":{"method":"GET","url":""},"response":{"status":200}}`), "entry 0: request.url: empty"},
		{harOf(`{"request":{"method":"GET","url":"mailto:a@b"},"response":{"status":200}}`), `entry 0: request.url: "mailto:a@b" has no path`},
		{harOf(`{"request":{"method":"GET","url":"h/x"},"response":{"status":200}}`), `entry 0: request.url: "h/x": the path must start with /`},
		{harOf(ok, ok, `{"request":{"method":"GET","url":"http://h/"}}`), "entry 2: response is missing"},
		{harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":20.5}}`), "entry 0: response.status 20.5: want an HTTP status code"},
		{harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":1000}}`), "entry 0: response.status 1000: want an HTTP status code"},
		{harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":"200"}}`), "entry 0: json: cannot unmarshal string into Go struct field .response.status of type float64"},
		{harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"content":{"text":"%%","encoding":"base64"}}}`),
			"entry 0: response.content: text is not base64: illegal base64 data at input byte 0"},
		{harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"content":{"text":"x","encoding":"gzip"}}}`),
			`entry 0: response.content: encoding "gzip": want base64 or none`},
	} {
		_, err := ReadHAR(strings.NewReader(tc.har))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%.60s:\n got %v\nwant %s", tc.har, err, tc.want)
		}
	}
}

// TestReadDemoHAR reads the recording of the demo session (written by
// examples/shop's TestDemoHAR).
func TestReadDemoHAR(t *testing.T) {
	f, err := os.Open("testdata/demo.har")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xs, err := ReadHAR(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, x := range xs {
		lines = append(lines, x.Method+" "+shape(x.URL.RequestURI())+" "+strconv.Itoa(x.Status))
	}
	want := []string{
		"GET /api/health 200",
		"POST /api/customers 201",
		"POST /api/customers 409",
		"PUT /api/customers/{id} 200",
		"POST /api/orders 201",
		"POST /api/orders 400",
		"GET /api/orders/{id} 200",
		"POST /api/webhooks/stripe 200",
		"GET /api/orders/{id} 200",
		"POST /api/webhooks/stripe 200",
		"PUT /api/orders/{id}/status 200",
		"PUT /api/orders/{id}/status 200",
		"PATCH /api/orders/{id}/status 200",
		"PUT /api/orders/{id}/status 404",
		"PUT /api/orders/{id}/status 200",
		"GET /api/orders?status=shipped 200",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("demo.har:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// objectID matches the demo shop's ids, which change with each recording.
var objectID = regexp.MustCompile(`[0-9a-f]{24}`)

func shape(s string) string { return objectID.ReplaceAllString(s, "{id}") }
