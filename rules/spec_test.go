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
