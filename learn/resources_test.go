package learn

import (
	"fmt"
	"slices"
	"testing"
)

// versions feeds a resource the documents of a story: each step is the id,
// whether it is a write, and the document.
type step struct {
	id    string
	write bool
	doc   string
}

func run(t *testing.T, o Options, steps []step) *resource {
	t.Helper()
	o = o.withDefaults()
	r := newResource("/api/things/{id}", "thing")
	rt := &route{method: "PUT"}
	get := &route{method: "GET"}
	for _, s := range steps {
		b := readBody([]byte(s.doc), "application/json", &o, true)
		if len(b.docs) != 1 {
			t.Fatalf("bad document %s", s.doc)
		}
		on := get
		if s.write {
			on = rt
		}
		r.observe(s.id, b.docs[0], on, &o)
	}
	return r
}

func stateNames(r *resource) []string {
	var out []string
	for _, s := range r.stateFields("id") {
		out = append(out, s.name)
	}
	return out
}

func TestStateFields(t *testing.T) {
	doc := func(id int, status, category, name string) string {
		return fmt.Sprintf(`{"id":%d,"status":%q,"category":%q,"name":%q,"count":%d}`, id, status, category, name, id)
	}
	for _, tt := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"a status that changes", []step{
			{"1", true, doc(1, "pending", "a", "x")},
			{"1", true, doc(1, "paid", "a", "x")},
		}, []string{"status"}},
		{"a status seen with several values but never changing", []step{
			{"1", false, doc(1, "pending", "a", "x")},
			{"2", false, doc(2, "paid", "a", "y")},
		}, nil},
		{"names change, and are unique", []step{
			{"1", true, doc(1, "new", "a", "Ann")}, {"1", true, doc(1, "new", "a", "Anna")},
			{"2", true, doc(2, "new", "a", "Bob")}, {"2", true, doc(2, "new", "a", "Bobby")},
			{"3", true, doc(3, "new", "a", "Cy")}, {"3", true, doc(3, "new", "a", "Cyd")},
		}, nil},
		{"a category with shared values, changed on three", []step{
			{"1", true, doc(1, "new", "gold", "a")}, {"2", true, doc(2, "new", "gold", "b")},
			{"3", true, doc(3, "new", "silver", "c")}, {"4", true, doc(4, "new", "silver", "d")},
			{"5", true, doc(5, "new", "bronze", "e")}, {"6", true, doc(6, "new", "gold", "f")},
			{"1", true, doc(1, "new", "silver", "a")}, {"2", true, doc(2, "new", "bronze", "b")},
			{"3", true, doc(3, "new", "gold", "c")},
		}, []string{"category"}},
		{"a two-valued setting", []step{
			{"1", true, doc(1, "new", "FR", "a")}, {"2", true, doc(2, "new", "FR", "b")},
			{"3", true, doc(3, "new", "EN", "c")}, {"4", true, doc(4, "new", "FR", "d")},
			{"1", true, doc(1, "new", "EN", "a")}, {"2", true, doc(2, "new", "EN", "b")},
			{"4", true, doc(4, "new", "EN", "d")},
		}, nil},
		{"a status with free text", []step{
			{"1", true, doc(1, "waiting for the customer to call back", "a", "x")},
			{"1", true, doc(1, "done", "a", "x")},
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateNames(run(t, Options{}, tt.steps)); !slices.Equal(got, tt.want) {
				t.Errorf("state fields %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStateValuesBound(t *testing.T) {
	var steps []step
	for i := range 20 {
		steps = append(steps, step{"1", true, fmt.Sprintf(`{"id":1,"status":"s%c"}`, 'a'+i)})
	}
	r := run(t, Options{MaxStateValues: 12}, steps)
	if got := stateNames(r); got != nil {
		t.Errorf("20 statuses: state fields %q", got)
	}
	if s := r.fields[r.index["status"]]; s.values != nil || !s.notEnum {
		t.Errorf("values kept past the bound: %v", s.values)
	}
	r = run(t, Options{MaxStateValues: 12}, steps[:12])
	if got := stateNames(r); !slices.Equal(got, []string{"status"}) {
		t.Errorf("12 statuses: state fields %q", got)
	}
}

func TestLastModified(t *testing.T) {
	doc := func(name, updated string) string {
		return fmt.Sprintf(`{"id":1,"name":%q,"updated_at":%q}`, name, updated)
	}
	for _, tt := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"moves on changes, stays on no-ops", []step{
			{"1", true, doc("a", "t0")}, {"1", true, doc("b", "t1")}, {"1", true, doc("b", "t1")}, {"1", true, doc("c", "t2")},
		}, "updated_at"},
		{"no no-op seen", []step{
			{"1", true, doc("a", "t0")}, {"1", true, doc("b", "t1")},
		}, "updated_at"},
		{"touched on every write", []step{
			{"1", true, doc("a", "t0")}, {"1", true, doc("b", "t1")}, {"1", true, doc("b", "t2")},
		}, ""},
		{"never moves", []step{
			{"1", true, doc("a", "t0")}, {"1", true, doc("b", "t0")}, {"1", true, doc("c", "t0")},
		}, ""},
		{"reads do not count", []step{
			{"1", false, doc("a", "t0")}, {"1", false, doc("b", "t0")}, {"1", false, doc("b", "t1")},
		}, ""},
		{"one change behind its back among many", []step{
			{"1", true, doc("a", "t0")}, {"1", true, doc("b", "t1")}, {"1", true, doc("c", "t2")},
			{"1", true, doc("d", "t3")}, {"1", true, doc("e", "t4")}, {"1", true, doc("f", "t5")},
			{"1", true, doc("g", "t5")}, {"1", true, doc("g", "t5")},
		}, "updated_at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if lm := run(t, Options{}, tt.steps).lastModified(); lm != nil {
				got = lm.name
			}
			if got != tt.want {
				t.Errorf("last-modified %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrackedIDsBound(t *testing.T) {
	var steps []step
	for i := range 10 {
		steps = append(steps, step{fmt.Sprint(i), true, fmt.Sprintf(`{"id":%d,"status":"a"}`, i)})
	}
	r := run(t, Options{MaxTrackedIDs: 4}, steps)
	if len(r.versions) != 4 || r.evicted != 6 {
		t.Errorf("%d versions kept, %d evicted", len(r.versions), r.evicted)
	}
	for _, id := range []string{"6", "7", "8", "9"} {
		if r.versions[id] == nil {
			t.Errorf("id %s, one of the newest, was forgotten", id)
		}
	}
	var wide step
	wide.id, wide.write, wide.doc = "w", true, `{"id":"w","a":1,"b":2,"c":3,"d":4}`
	r = run(t, Options{MaxFields: 3}, []step{wide})
	if len(r.fields) != 3 || r.dropped != 2 {
		t.Errorf("%d fields, %d dropped", len(r.fields), r.dropped)
	}
}

func TestPrimaryID(t *testing.T) {
	o := Options{}.withDefaults()
	for _, tt := range []struct {
		doc, sing, name, value string
		ok                     bool
	}{
		{`{"id":7,"x":1}`, "order", "id", "7", true},
		{`{"_id":"6b04","id":null}`, "order", "_id", "6b04", true},
		{`{"uuid":"u-1"}`, "", "uuid", "u-1", true},
		{`{"orderId":"o1","x":1}`, "order", "orderId", "o1", true},
		{`{"order_id":"o1"}`, "order", "order_id", "o1", true},
		{`{"id":{"$oid":"x"}}`, "order", "id", "", false},
		{`{"name":"x"}`, "order", "", "", false},
		{`{"orderId":"o1"}`, "", "", "", false},
	} {
		b := readBody([]byte(tt.doc), "application/json", &o, true)
		name, value, ok := primaryID(b.docs[0], tt.sing)
		if name != tt.name || value != tt.value || ok != tt.ok {
			t.Errorf("primaryID(%s, %q) = %q %q %v, want %q %q %v", tt.doc, tt.sing, name, value, ok, tt.name, tt.value, tt.ok)
		}
	}
}
