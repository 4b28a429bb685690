package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSpecJSON(t *testing.T) {
	src := `[{"name":"order.created","match":{"method":"post","path":"/api/orders","status":201},
	  "data":{"z":"response.body.z","a":{"y":"path.id","b":"request.method"}},"redact":["password"],"site":"response.body.site"},
	 {"name":"x.y","match":{"method":["GET","PUT"],"path":"/x/{id}","status":["2xx",204]},"data":"response.body","when":"true"}]`
	var specs []Spec
	if err := json.Unmarshal([]byte(src), &specs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(specs[0].Match, MatchSpec{Method: StringList{"post"}, Path: "/api/orders", Status: StringList{"201"}}) {
		t.Errorf("match 0: %+v", specs[0].Match)
	}
	if !reflect.DeepEqual(specs[1].Match.Status, StringList{"2xx", "204"}) || specs[1].Data.Source != "response.body" {
		t.Errorf("spec 1: %+v", specs[1])
	}
	out, err := json.Marshal(specs[0].Data)
	if err != nil || string(out) != `{"z":"response.body.z","a":{"y":"path.id","b":"request.method"}}` {
		t.Errorf("data round trip: %s %v", out, err)
	}
	if _, err := Compile(specs); err == nil || !strings.Contains(err.Error(), `events[0]: event order.created: data.a.y: source "path.id"`) {
		t.Errorf("got %v", err)
	}
	specs[0].Match.Path = "/api/orders/{id}"
	set, err := Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Matches("POST", "/api/orders/1") {
		t.Error("no match")
	}
	// Marshal then unmarshal gives the same specs.
	b, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	var again []Spec
	if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(again, specs) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, again, specs)
	}

	for _, bad := range []string{`{"data":[1]}`, `{"data":{"a":1}}`, `{"data":{"a":"x","a":"y"}}`, `{"match":{"status":true}}`, `{"match":{"method":[["x"]]}}`} {
		var s Spec
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	var s Spec
	if err := json.Unmarshal([]byte(`{"data":{}, "match":{"path":"/x","status":null}}`), &s); err != nil || s.Data == nil || s.Data.Fields == nil || s.Match.Status != nil {
		t.Errorf("empty data object: %+v %v", s, err)
	}
}

// state.snapshot is a source string, or {source, redact} when the
// snapshot has redact entries of its own; both forms read back the same.
func TestStateSpecJSON(t *testing.T) {
	tests := []struct {
		in   string
		want StateSpec
		out  string
	}{
		{`{"key":"o:{path.id}"}`, StateSpec{Key: "o:{path.id}"}, `{"key":"o:{path.id}"}`},
		{`{"key":"k","snapshot":"response.body.o","prefetch":"GET /o"}`, StateSpec{Key: "k", Snapshot: "response.body.o", Prefetch: "GET /o"},
			`{"key":"k","snapshot":"response.body.o","prefetch":"GET /o"}`},
		{`{"key":"k","snapshot":{"source":"request.body","redact":["password","a.b"]}}`,
			StateSpec{Key: "k", Snapshot: "request.body", SnapshotRedact: []string{"password", "a.b"}},
			`{"key":"k","snapshot":{"source":"request.body","redact":["password","a.b"]}}`},
		{`{"key":"k","snapshot":{"redact":["x"]}}`, StateSpec{Key: "k", SnapshotRedact: []string{"x"}}, `{"key":"k","snapshot":{"redact":["x"]}}`},
		{`{"key":"k","snapshot":{"source":"none"}}`, StateSpec{Key: "k", Snapshot: "none"}, `{"key":"k","snapshot":"none"}`},
		{`{"key":"k","snapshot":null}`, StateSpec{Key: "k"}, `{"key":"k"}`},
		{`{"key":"k","prefetch":{"request":"GET /o","select":"data"}}`, StateSpec{Key: "k", Prefetch: "GET /o", PrefetchSelect: "data"},
			`{"key":"k","prefetch":{"request":"GET /o","select":"data"}}`},
		{`{"key":"k","prefetch":{"request":"GET /o"}}`, StateSpec{Key: "k", Prefetch: "GET /o"}, `{"key":"k","prefetch":"GET /o"}`},
	}
	for _, tt := range tests {
		var got StateSpec
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		out, err := json.Marshal(got)
		if err != nil || string(out) != tt.out {
			t.Errorf("%s: marshal = %s, %v; want %s", tt.in, out, err, tt.out)
		}
	}
	for _, bad := range []string{`{"key":"k","snapshot":1}`, `{"key":"k","snapshot":{"sauce":"x"}}`, `{"key":"k","snap":"x"}`, `{"key":"k","snapshot":{"redact":"x"}}`,
		`{"key":"k","prefetch":1}`, `{"key":"k","prefetch":{"request":"GET /o","pick":"data"}}`,
		`{"key":"k","prefetch":{"select":"data"}}`, `{"key":"k","prefetch":{"request":" ","select":"data"}}`} {
		var s StateSpec
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestShadowRule: shadow: true marks the rule's events; anything but a
// boolean is refused at its line.
func TestShadowRule(t *testing.T) {
	set := mustSet(t, "events:\n  - name: a.b\n    shadow: true\n    match: {path: /x}\n  - name: c.d\n    match: {path: /x}\n")
	var shadows []bool
	for _, c := range set.Candidates("GET", "/x") {
		ev, err := c.Eval(&Input{Method: "GET", Path: "/x", Status: 200})
		if err != nil {
			t.Fatal(err)
		}
		shadows = append(shadows, c.Rule.Shadow(), ev.Shadow)
	}
	if want := []bool{true, true, false, false}; !reflect.DeepEqual(shadows, want) {
		t.Errorf("Rule.Shadow and Event.Shadow of a shadow rule and a live one: %v, want %v", shadows, want)
	}
	_, err := Parse("t.yaml", []byte("events:\n  - name: a.b\n    match: {path: /x}\n    shadow: maybe\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4: shadow must be true or false") {
		t.Errorf("shadow: maybe: %v", err)
	}
}
