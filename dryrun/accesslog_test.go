package dryrun

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestReadAccessLog(t *testing.T) {
	f, err := os.Open("testdata/access.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	xs, err := ReadAccessLog(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, x := range xs {
		lines = append(lines, fmt.Sprintf("%d %s %d %d/%d %s/%s", x.Index, shape(x.RequestLine()), x.Status,
			len(x.Body), len(x.RespBody), boolText(x.BodyMissing), boolText(x.RespBodyMissing)))
	}
	// index, request, status, body sizes (request/response), bodies missing
	want := []string{
		"2 POST /api/orders 201 0/0 missing/missing",
		"3 GET /api/orders/{id} 200 0/0 -/missing",
		"5 PUT /api/orders/{id}/status 200 0/0 missing/missing",
		"6 PUT /api/customers/{id} 502 0/0 missing/missing",
		"7 PUT /api/customers/{id} 200 28/76 -/-",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("access.log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	x := xs[1]
	if x.Header.Get("Authorization") != "REDACTED" || x.Header.Get("Accept") != "*/*" || x.RespHeader.Get("Server") != "Caddy" {
		t.Errorf("headers: %v %v", x.Header, x.RespHeader)
	}
}

func boolText(missing bool) string {
	if missing {
		return "missing"
	}
	return "-"
}

func TestReadAccessLogErrors(t *testing.T) {
	good := `{"logger":"http.log.access","request":{"method":"GET","uri":"/"},"status":200}`
	for _, tc := range []struct{ log, want string }{
		{good + "\n" + `2026/11/24 09:20:01.207 INFO http.log.access handled request {"request": {}}`,
			"line 2: not a JSON log line: the access log must use Caddy's json format (format json)"},
		{good + "\n\n" + `{"request":`, "line 3: not a JSON log line: unexpected end of JSON input (at byte 11)"},
		{`{"request":{"method":"GET","uri":"/"}}`, "line 1: status is missing"},
		{`{"request":{"method":"GET","uri":"/"},"status":-1}`, "line 1: status -1: want an HTTP status code"},
		{`{"request":{"uri":"/"},"status":200}`, "line 1: request.method is missing"},
		{`{"request":{"method":"GET","uri":"%zz"},"status":200}`, `line 1: request.uri: parse "%zz": invalid URL escape "%zz"`},
		{`{"request":{"method":"GET","uri":"/","headers":{"A":"b"}},"status":200}`,
			"line 1: not a JSON log line: json: cannot unmarshal string into Go struct field .request.headers of type []string"},
		{good + "\n" + `{"x":"` + strings.Repeat("a", maxLogLine) + `"}`, "line 2: longer than 64 MiB"},
	} {
		_, err := ReadAccessLog(strings.NewReader(tc.log))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%.60s:\n got %v\nwant %s", tc.log, err, tc.want)
		}
	}
	// Other loggers' lines, and lines with no request, are not exchanges.
	xs, err := ReadAccessLog(strings.NewReader(`{"logger":"http.log.error","request":{"method":"GET","uri":"/"},"status":502}` + "\n" +
		`{"logger":"admin","msg":"stopped"}` + "\n" + `{"msg":"no logger, no request"}` + "\n"))
	if err != nil || len(xs) != 0 {
		t.Errorf("other lines: %v %v", xs, err)
	}
}

// TestReplayAccessLog replays an access log through the shop's rules:
// the rules that read a body Caddy did not log are skipped, and say so.
func TestReplayAccessLog(t *testing.T) {
	var out, errOut strings.Builder
	cfg := Config{RuleFiles: []string{"../examples/shop/rules.yaml"}, Log: "testdata/access.log", MaxBody: DefaultMaxBody}
	if err := cfg.Run(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	wantEvents := `{"event":"customer.updated","data":{"customerId":"6b0403f897c5daf2954abf6f","email":"jean@example.ch","changedFields":["phone"],"siteId":"site-2"},"site":"site-2","request":"PUT /api/customers/6b0403f897c5daf2954abf6f","status":200,"index":7}` + "\n"
	if out.String() != wantEvents {
		t.Errorf("events:\n%s\nwant:\n%s", out.String(), wantEvents)
	}
	for _, want := range []string{
		"dry run: 5 exchanges, 1 events (nothing was stored or sent)\n",
		"rules.yaml:86 order.created: matched 1, fired 0, skipped 1\n  response_body_not_json: 1 (body not in the recording: 1)\n",
		"rules.yaml:174 order.status_changed: matched 1, fired 0, skipped 1\n  response_body_not_json: 1 (body not in the recording: 1)\n  prefetch: body not in the recording: 1\n",
		"(state only): matched 1\n  state not written: response_body_not_json: 1\n",
		"note: the recording does not hold the body of 3 requests and 4 responses that had one",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, errOut.String())
		}
	}
}
