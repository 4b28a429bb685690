package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// evalItems runs candidate c once per item of in, as the handler does,
// and returns each event's data (or "-" when `when` was false), with the
// state key and snapshot of each item.
func evalItems(t *testing.T, c Candidate, in *Input) (datas, keys, snaps []string) {
	t.Helper()
	items, err := c.Items(in)
	if err != nil {
		t.Fatalf("Items: %v", err)
	}
	for i := range items {
		in.SetItem(&items[i])
		k, err := c.StateKey(in)
		if err != nil {
			t.Fatalf("StateKey: %v", err)
		}
		snap, err := c.Snapshot(in)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		keys, snaps = append(keys, k), append(snaps, string(snap))
		ev, err := c.Eval(in)
		if err != nil {
			t.Fatalf("Eval: %v", err)
		}
		if ev == nil {
			datas = append(datas, "-")
			continue
		}
		datas = append(datas, string(ev.Data))
	}
	in.SetItem(nil)
	return datas, keys, snaps
}

func TestEachResponseItems(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.created
    match: {method: POST, path: /items/orders, status: 201}
    each: response.body.data
    state: {key: "order:{item.id}"}
    when: item.total > 10
    data: {id: item.id, total: item.total, by: request.headers.X-User}
`)
	c := set.Candidates("POST", "/items/orders")[0]
	if !c.Rule.HasEach() || c.Rule.ItemsEarly() || c.Rule.StateKeyEarly() {
		t.Fatalf("each over the response: HasEach %v ItemsEarly %v StateKeyEarly %v", c.Rule.HasEach(), c.Rule.ItemsEarly(), c.Rule.StateKeyEarly())
	}
	hdr := http.Header{"X-User": {"u1"}}
	tests := []struct {
		name, body string
		datas      []string
		snaps      []string
	}{
		{"array", `{"data":[{"id":1,"total":20},{"id":"b","total":5},{"id":3,"total":30}]}`,
			[]string{`{"id":1,"total":20,"by":"u1"}`, "-", `{"id":3,"total":30,"by":"u1"}`},
			[]string{`{"id":1,"total":20}`, `{"id":"b","total":5}`, `{"id":3,"total":30}`}},
		{"object is one item", `{"data":{"id":7,"total":11}}`, []string{`{"id":7,"total":11,"by":"u1"}`}, []string{`{"id":7,"total":11}`}},
		{"null", `{"data":null}`, nil, nil},
		{"missing", `{}`, nil, nil},
		{"empty array", `{"data":[]}`, nil, nil},
		{"scalar", `{"data":5}`, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{Method: "POST", Path: "/items/orders", Header: hdr, Status: 201, RespBody: []byte(tt.body)}
			datas, keys, snaps := evalItems(t, c, in)
			if !reflect.DeepEqual(datas, tt.datas) || !reflect.DeepEqual(snaps, tt.snaps) {
				t.Errorf("datas %q snaps %q, want %q %q", datas, snaps, tt.datas, tt.snaps)
			}
			for i, k := range keys {
				if want := "order:" + siteText([]byte(fmt.Sprint(jsonField(t, snaps[i], "id")))); k != want {
					t.Errorf("key %d = %q, want %q", i, k, want)
				}
			}
		})
	}
}

func jsonField(t *testing.T, doc, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return string(m[field])
}

// TestEachRequestKeysPaired: items from the request (known before it goes
// upstream), each paired with its resource in the answer by id, whatever
// the answer's order and whether ids are numbers or strings.
func TestEachRequestKeysPaired(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.status_changed
    match: {method: PATCH, path: /items/orders}
    each: {source: request.body.keys, response: response.body.data, by: id}
    state:
      key: "order:{item}"
      prefetch: {request: "GET /items/orders/{item}", select: data}
    when: previous.status != response.item.status
    data: {id: item, old: previous.status, new: response.item.status}
`)
	c := set.Candidates("PATCH", "/items/orders")[0]
	if !c.Rule.ItemsEarly() || !c.Rule.StateKeyEarly() || !c.Rule.StateNeedsBodyFirst() || !c.Rule.HasPrefetch() {
		t.Fatalf("each over request keys: ItemsEarly %v StateKeyEarly %v NeedsBodyFirst %v", c.Rule.ItemsEarly(), c.Rule.StateKeyEarly(), c.Rule.StateNeedsBodyFirst())
	}
	body := []byte(`{"keys":[1,"2",3,4],"data":{"status":"shipped"}}`)

	// Before the request: the keys and prefetch paths per item.
	early := &Input{Method: "PATCH", Path: "/items/orders", Header: http.Header{}, Body: body}
	vals, err := c.ItemValues(early)
	if err != nil || len(vals) != 4 {
		t.Fatalf("ItemValues = %q, %v", vals, err)
	}
	var keys, paths []string
	for _, v := range vals {
		early.SetItem(&Item{Value: v})
		k, err := c.StateKey(early)
		if err != nil {
			t.Fatal(err)
		}
		_, p, _, err := c.Prefetch(early)
		if err != nil {
			t.Fatal(err)
		}
		keys, paths = append(keys, k), append(paths, p)
	}
	if want := []string{"order:1", "order:2", "order:3", "order:4"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q", keys)
	}
	if want := []string{"/items/orders/1", "/items/orders/2", "/items/orders/3", "/items/orders/4"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("prefetch paths %q", paths)
	}
	if prev, ok := c.SelectPrefetched([]byte(`{"data":{"id":1,"status":"paid"}}`)); !ok || string(prev) != `{"id":1,"status":"paid"}` {
		t.Errorf("SelectPrefetched = %s %v", prev, ok)
	}

	// After: the answer lists them in another order, one (4) missing.
	in := &Input{Method: "PATCH", Path: "/items/orders", Header: http.Header{}, Body: body, Status: 200,
		RespBody: []byte(`{"data":[{"id":"3","status":"shipped"},{"id":1,"status":"shipped"},{"id":2,"status":"shipped"}]}`)}
	items, err := c.Items(in)
	if err != nil {
		t.Fatal(err)
	}
	prevs := []string{`{"status":"paid"}`, `{"status":"shipped"}`, `{"status":"pending"}`, `{"status":"paid"}`}
	var got []string
	for i := range items {
		in.SetItem(&items[i])
		in.SetPrevious([]byte(prevs[i]))
		ev, err := c.Eval(in)
		switch {
		case err != nil:
			t.Fatal(err)
		case ev == nil:
			got = append(got, "-")
		default:
			got = append(got, string(ev.Data))
		}
	}
	want := []string{`{"id":1,"old":"paid","new":"shipped"}`, "-", `{"id":3,"old":"pending","new":"shipped"}`, `{"id":4,"old":"paid","new":null}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
	if string(items[3].Response) != "" {
		t.Errorf("item 4 paired with %s, want nothing", items[3].Response)
	}
}

// TestEachPairedByPosition: a batch create whose request items have no
// ids, answered with the created resources in the same order.
func TestEachPairedByPosition(t *testing.T) {
	set := mustSet(t, `events:
  - name: person.created
    match: {method: POST, path: /people, status: 201}
    each: {source: request.body, response: response.body}
    state: {key: "person:{response.item.id}"}
    data: {id: response.item.id, sent: item.name}
`)
	c := set.Candidates("POST", "/people")[0]
	if c.Rule.StateKeyEarly() {
		t.Error("a key read from response.item is not early")
	}
	in := &Input{Method: "POST", Path: "/people", Header: http.Header{}, Status: 201,
		Body: []byte(`[{"name":"a"},{"name":"b"}]`), RespBody: []byte(`[{"id":10,"name":"A"},{"id":11,"name":"B"}]`)}
	datas, keys, snaps := evalItems(t, c, in)
	if want := []string{`{"id":10,"sent":"a"}`, `{"id":11,"sent":"b"}`}; !reflect.DeepEqual(datas, want) {
		t.Errorf("datas %q", datas)
	}
	if want := []string{"person:10", "person:11"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q", keys)
	}
	if want := []string{`{"id":10,"name":"A"}`, `{"id":11,"name":"B"}`}; !reflect.DeepEqual(snaps, want) {
		t.Errorf("snapshots %q (default: response.item)", snaps)
	}
}

// TestEachObjectItemsPairedBy: items that are objects pair by their own
// field.
func TestEachObjectItemsPairedBy(t *testing.T) {
	set := mustSet(t, `events:
  - name: stock.changed
    match: {method: PUT, path: /stock}
    each: {source: request.body.lines, response: response.body, by: sku}
    data: {sku: item.sku, asked: item.qty, now: response.item.qty}
`)
	c := set.Candidates("PUT", "/stock")[0]
	in := &Input{Method: "PUT", Path: "/stock", Header: http.Header{}, Status: 200,
		Body: []byte(`{"lines":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`), RespBody: []byte(`[{"sku":"b","qty":20},{"sku":"a","qty":10}]`)}
	datas, _, _ := evalItems(t, c, in)
	if want := []string{`{"sku":"a","asked":1,"now":10}`, `{"sku":"b","asked":2,"now":20}`}; !reflect.DeepEqual(datas, want) {
		t.Errorf("datas %q", datas)
	}
}

func TestEachTooMany(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.deleted
    match: {method: DELETE, path: /orders}
    each: request.body
    data: {id: item}
`)
	c := set.Candidates("DELETE", "/orders")[0]
	ids := make([]string, MaxEachItems+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	in := &Input{Method: "DELETE", Path: "/orders", Header: http.Header{}, Body: []byte("[" + strings.Join(ids, ",") + "]")}
	_, err := c.ItemValues(in)
	var se *SkipError
	if !errors.As(err, &se) || se.Reason != ReasonEachTooMany {
		t.Errorf("%d items: %v, want %s", len(ids), err, ReasonEachTooMany)
	}
	in = &Input{Method: "DELETE", Path: "/orders", Header: http.Header{}, Body: []byte("[" + strings.Join(ids[:MaxEachItems], ",") + "]")}
	if vals, err := c.ItemValues(in); err != nil || len(vals) != MaxEachItems {
		t.Errorf("%d items: %d, %v", MaxEachItems, len(vals), err)
	}
}

func TestEachCompileErrors(t *testing.T) {
	rule := func(body string) string {
		return "events:\n  - name: order.created\n    match: {path: /x}\n" + body
	}
	tests := []struct{ name, src, want string }{
		{"item without each", rule("    data: {id: item.id}\n"), `t.yaml:4: event order.created: data.id reads item, but the rule has no each`},
		{"item in when without each", rule("    when: item.id == 1\n"), `when reads item, but the rule has no each`},
		{"response.item without each.response", rule("    each: response.body\n    data: response.item.id\n"), `t.yaml:5: event order.created: data reads response.item, which needs each.response`},
		{"response.item in when", rule("    each: request.body\n    when: response.item.x == 1\n"), `when reads response.item`},
		{"bad each source", rule("    each: request.headers.X\n"), `t.yaml:4: event order.created: each: the items come from request.body`},
		{"unknown each source", rule("    each: reponse.body\n"), `each: unknown source "reponse.body"`},
		{"each without source", rule("    each: {response: response.body}\n"), `each: the source of the items is required`},
		{"bad each response", rule("    each:\n      source: request.body\n      response: request.body.x\n"), `t.yaml:6: event order.created: each.response: the items' resources come from response.body`},
		{"by without response", rule("    each:\n      source: request.body\n      by: id\n"), `t.yaml:6: event order.created: each.by pairs items`},
		{"bad by", rule("    each: {source: request.body, response: response.body, by: \"a..b\"}\n"), `each.by: bad gjson path`},
		{"unknown each key", rule("    each: {source: request.body, pair: id}\n"), `t.yaml:4: unknown key "pair" in each`},
		{"request items, no snapshot", rule("    each: request.body\n    state: {key: \"o:{item}\"}\n"), `state.snapshot: with each over the request, say what to remember`},
		{"prefetch with response items", rule("    each: response.body\n    state: {key: \"o:{item.id}\", prefetch: \"GET /o/{item.id}\"}\n"), `state.prefetch: the path may use only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				_, err = Compile(specs)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestEachSpecJSON(t *testing.T) {
	for _, src := range []string{`"request.body.keys"`, `{"source":"request.body.keys","response":"response.body.data","by":"id"}`} {
		var e EachSpec
		if err := json.Unmarshal([]byte(src), &e); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(e)
		if err != nil || string(out) != src {
			t.Errorf("round trip of %s: %s %v", src, out, err)
		}
	}
	for _, bad := range []string{`1`, `{"source":"x","pair":"id"}`, `[]`} {
		var e EachSpec
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
