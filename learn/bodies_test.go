package learn

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	o := Options{}.withDefaults()
	for _, tt := range []struct {
		name, ct, body string
		kind           bodyKind
		envelope       string
		fields         []string // path:type,type
		docs           int
		skipped        string
	}{
		{name: "object", ct: "application/json", body: `{"_id":"a1","total":3.5,"customer":{"email":"x@y.z"},"items":[{"sku":"A","qty":1}],"paid":false,"site":null}`,
			kind: kindObject, docs: 1,
			fields: []string{"_id:string", "total:number", "customer:object", "customer.email:string", "items:array",
				"items[]:object", "items[].sku:string", "items[].qty:number", "paid:boolean", "site:null"}},
		{name: "array of documents", ct: "application/json", body: `[{"id":1,"name":"a"},{"id":2,"name":null,"tag":"x"}]`,
			kind: kindArray, docs: 2, fields: []string{"id:number", "name:string,null", "tag:string"}},
		{name: "array of ids", ct: "application/json", body: `[1, 2, "3"]`, kind: kindArray, fields: []string{"[]:string,number"}},
		{name: "envelope", ct: "application/vnd.api+json", body: `{"data":{"id":"7","status":"new"},"meta":{"took":3}}`,
			kind: kindObject, envelope: "data", docs: 1, fields: []string{"id:string", "status:string"}},
		{name: "JSend envelope", ct: "application/json", body: `{"status":"success","data":[{"id":1}]}`,
			kind: kindArray, envelope: "data", docs: 1, fields: []string{"id:number"}},
		{name: "a page is not an envelope", ct: "application/json", body: `{"total":1,"items":[{"id":1}]}`,
			kind: kindObject, docs: 1, fields: []string{"total:number", "items:array", "items[]:object", "items[].id:number"}},
		{name: "data holding a string is not an envelope", ct: "application/json", body: `{"data":"x"}`,
			kind: kindObject, docs: 1, fields: []string{"data:string"}},
		{name: "scalar", ct: "application/json", body: `true`, kind: kindScalar},
		{name: "form", ct: "application/x-www-form-urlencoded", body: `a=1&b=2&b=3`, kind: kindObject, fields: []string{"a:string", "b:array"}},
		{name: "text", ct: "text/plain", body: `{"a":1}`},
		{name: "no type", ct: "", body: `{"a":1}`},
		{name: "empty", ct: "application/json", body: ``},
		{name: "invalid", ct: "application/json", body: `{"a":`, skipped: "bodies_invalid"},
		{name: "too deep", ct: "application/json", body: strings.Repeat("[", 200) + strings.Repeat("]", 200), skipped: "bodies_too_deep"},
		{name: "brackets in strings do not nest", ct: "application/json", body: `{"a":"` + strings.Repeat("[", 300) + `"}`,
			kind: kindObject, docs: 1, fields: []string{"a:string"}},
		{name: "too large", ct: "application/json", body: `"` + strings.Repeat("x", 1<<20) + `"`, skipped: "bodies_too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := readBody([]byte(tt.body), tt.ct, &o, true)
			var fields []string
			for _, f := range b.fields {
				fields = append(fields, f.path+":"+strings.Join(f.types.names(), ","))
			}
			if b.kind != tt.kind || b.envelope != tt.envelope || !slices.Equal(fields, tt.fields) ||
				len(b.docs) != tt.docs || b.skipped != tt.skipped {
				t.Errorf("got kind %d envelope %q fields %q docs %d skipped %q\nwant kind %d envelope %q fields %q docs %d skipped %q",
					b.kind, b.envelope, fields, len(b.docs), b.skipped, tt.kind, tt.envelope, tt.fields, tt.docs, tt.skipped)
			}
		})
	}
}

func TestReadBodyBounds(t *testing.T) {
	o := Options{MaxDepth: 3, MaxFields: 10, MaxArrayItems: 2, MaxBatchItems: 3}.withDefaults()
	deep := strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20)
	b := readBody([]byte(deep), "application/json", &o, true)
	if len(b.fields) != 3 || !b.truncated || b.fields[2].path != "a.a.a" {
		t.Errorf("deep: %+v", b)
	}
	var wide strings.Builder
	wide.WriteString("{")
	for i := range 100 {
		fmt.Fprintf(&wide, `"f%d":%d,`, i, i)
	}
	wide.WriteString(`"last":0}`)
	b = readBody([]byte(wide.String()), "application/json", &o, true)
	if len(b.fields) != 10 || !b.truncated || len(b.docs[0]) != maxVersionField {
		t.Errorf("wide: %d fields, truncated %v, doc of %d fields", len(b.fields), b.truncated, len(b.docs[0]))
	}
	b = readBody([]byte(`[{"id":1,"t":[1,2,3,{"x":1}]},{"id":2},{"id":3},{"id":4},{"id":5,"late":1}]`), "application/json", &o, true)
	if len(b.docs) != 3 || !b.truncated || slices.ContainsFunc(b.fields, func(f fieldObs) bool { return f.path == "late" || f.path == "t[].x" }) {
		t.Errorf("array: %d docs, truncated %v, fields %+v", len(b.docs), b.truncated, b.fields)
	}
	long := `{"` + strings.Repeat("k", 200) + `":1,"ok":2}`
	b = readBody([]byte(long), "application/json", &o, true)
	if len(b.fields) != 1 || b.fields[0].path != "ok" || len(b.docs[0]) != 1 {
		t.Errorf("long key: %+v", b)
	}
}

func TestShapeMerge(t *testing.T) {
	o := Options{}.withDefaults()
	var s shape
	budget := 100
	for _, body := range []string{`{"data":{"id":1}}`, `{"data":{"id":2,"x":"y"}}`, `{"data":[{"id":3}]}`} {
		b := readBody([]byte(body), "application/json", &o, true)
		s.add(&b, o.MaxFields, &budget)
	}
	if s.bodies != 3 || s.objects != 2 || s.arrays != 1 || s.envelopeKey() != "data" {
		t.Errorf("shape: %+v", s)
	}
	if got := s.topFields(); !slices.Equal(got, []string{"id", "x"}) || s.field("id").count != 3 || s.field("x").count != 1 {
		t.Errorf("fields %q", got)
	}
	b := readBody([]byte(`{"result":{"id":1}}`), "application/json", &o, true)
	s.add(&b, o.MaxFields, &budget)
	if s.envelopeKey() != "" {
		t.Errorf("two wrapper keys: envelope %q", s.envelopeKey())
	}
	b = readBody([]byte(`{"a":1,"b":2,"c":3}`), "application/json", &o, true)
	budget = 1
	var small shape
	small.add(&b, o.MaxFields, &budget)
	if len(small.fields) != 1 || small.dropped != 2 || budget != 0 {
		t.Errorf("budget: %d fields, %d dropped", len(small.fields), small.dropped)
	}
}
