package learn

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// FuzzObserve feeds hostile exchanges: Observe must never panic, the
// Report must marshal, and the proposal must always load.
//
//	go test -run '^$' -fuzz FuzzObserve -fuzztime 30s ./learn
func FuzzObserve(f *testing.F) {
	for _, seed := range []struct {
		method, path string
		status       int
		ct           string
		req, resp    string
	}{
		{"POST", "/api/orders", 201, "application/json", `{"items":[{"sku":"A"}],"password":"x"}`,
			`{"_id":"6b0403f897c5daf2954abf6e","status":"pending","updatedAt":"t0","customer":{"email":"a@b.c"}}`},
		{"PUT", "/api/orders/6b0403f897c5daf2954abf6e/status", 200, "application/json", `{"status":"paid"}`,
			`{"_id":"6b0403f897c5daf2954abf6e","status":"paid","updatedAt":"t1"}`},
		{"POST", "/api/v1/people", 201, "application/json", `[{"first_name":"A"}]`, `[{"id":1,"first_name":"A","updated_at":"x"}]`},
		{"PATCH", "/api/v1/people", 200, "application/json", `{"keys":[1],"data":{"role":"x"}}`, `[{"id":1,"role":"x"}]`},
		{"DELETE", "/api/v1/people", 204, "application/json", `[1,2]`, ``},
		{"PATCH", "/items/orders/1", 200, "application/vnd.api+json", `{}`, `{"data":{"id":1,"status":"x"},"meta":{}}`},
		{"POST", "/x/1", 201, "application/json", `{}`, `{"id":"1","a.b":1,"$x":2,"in":"a","__proto__":{},"é":"é","a\nb":"c","":"e","*":1}`},
		{"POST", "/a b/{x}/%zz/*/?#", 201, "application/json", `{}`, `{"id":"a\"b\\c{d}"}`},
		{"POST", "/api/orders", 201, "application/json", `{}`, `{"id":"in","status":"x\u2028y"}`},
		{"POST", "/api/n", 201, "application/json", `{}`, `{"id":1e400,"n":-0.0}`},
		{"POST", "/api/orders", 201, "application/x-www-form-urlencoded", `a=1&a=2&%zz=3`, `{"id":"\xff\xfe"}`},
		{"POST", "/api/orders", 201, "application/json", `[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]`, `{"id":[{"id":{"id":1}}]}`},
		{"GET", "", -1, "", "", ""},
		{"BREW", "//", 999, "text/plain", "x", "y"},
		{"0", "/\xa8s", 97, "0", "0", "0"}, // invalid UTF-8 in a collection name
		{"post", "/api/\u00e9l\u00e8ves", 201, "application/json; charset=utf-8", `{}`, `{"id":"null","status":"true"}`},
	} {
		f.Add(seed.method, seed.path, seed.status, seed.ct, []byte(seed.req), []byte(seed.resp))
	}
	f.Fuzz(func(t *testing.T, method, path string, status int, ct string, req, resp []byte) {
		m := New(Options{})
		x := &Exchange{Method: method, Path: path, Status: status, RequestType: ct, ResponseType: ct, RequestBody: req, ResponseBody: resp}
		m.Observe(x)
		// The same answer as a create, a read and two updates of one
		// resource, so that hostile documents reach the proposal.
		for _, y := range []Exchange{
			{Method: "POST", Path: path, Status: 201},
			{Method: "GET", Path: path + "/1", Status: 200},
			{Method: "PUT", Path: path + "/1", Status: 200},
			{Method: "PATCH", Path: path + "/" + strconv.Itoa(status), Status: 200},
		} {
			y.RequestType, y.ResponseType, y.RequestBody, y.ResponseBody = ct, "application/json", req, resp
			m.Observe(&y)
		}
		if _, err := json.Marshal(m.Report()); err != nil {
			t.Fatalf("report: %v", err)
		}
		y := m.Rules()
		specs, err := rules.Parse("proposal.yaml", y)
		if err != nil {
			t.Fatalf("the proposal does not parse: %v\n%s", err, y)
		}
		if _, err := rules.Compile(specs); err != nil {
			t.Fatalf("the proposal does not compile: %v\n%s", err, y)
		}
	})
}
