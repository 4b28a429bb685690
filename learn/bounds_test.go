package learn

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// word spells n in letters, so that it is never an id.
func word(n int) string {
	var b []byte
	for {
		b = append(b, byte('a'+n%26))
		if n /= 26; n == 0 {
			return string(b)
		}
	}
}

func TestMaxTemplates(t *testing.T) {
	m := New(Options{})
	for i := range 6000 {
		m.Observe(ex("POST", "/api/"+word(i), 201, `{}`, fmt.Sprintf(`{"id":%d}`, i)))
	}
	rep := m.Report()
	if rep.Templates != 5000 || rep.DroppedTemplates != 1000 || rep.Exchanges != 6000 {
		t.Errorf("templates %d, dropped %d, exchanges %d", rep.Templates, rep.DroppedTemplates, rep.Exchanges)
	}
	if rep.DroppedResources == 0 || len(rep.Resources) == 0 {
		t.Errorf("dropped resources %d, resources %d", rep.DroppedResources, len(rep.Resources))
	}
	load(t, m) // 5000 proposed creates still load
}

func TestObserveBounds(t *testing.T) {
	m := New(Options{MaxResources: 1, MaxTotalFields: 5})
	huge := `{"id":1,"blob":"` + strings.Repeat("x", 2<<20) + `"}`
	observe(m,
		ex("POST", "/api/things", 201, huge, huge),
		ex("POST", "/api/things", 201, `{}`, strings.Repeat("[", 100000)+strings.Repeat("]", 100000)),
		ex("POST", "/api/things", 201, `{}`, strings.Repeat(`{"a":`, 100)+"1"+strings.Repeat("}", 100)),
		ex("POST", "/api/things", 201, `{}`, `{"id":`),
		ex("POST", "/api/others", 201, `{}`, `{"id":1,"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}`),
		ex("POST", "/api/more", 201, `{}`, `{"id":2}`), // past MaxResources
		ex("GET", "/"+strings.Repeat("x/", 100), 200, "", ""),
		ex("GET", "no-slash", 200, "", ""),
		&Exchange{Method: "BREW", Path: "/api/things", Status: 999},
		nil,
	)
	rep := m.Report()
	for reason, want := range map[string]int64{
		"bodies_too_large": 2, "bodies_too_deep": 1, "bodies_invalid": 1, "too_many_segments": 1, "bad_path": 1,
	} {
		if rep.Ignored[reason] != want {
			t.Errorf("ignored %s: %d, want %d (%v)", reason, rep.Ignored[reason], want, rep.Ignored)
		}
	}
	if rep.DroppedResources != 1 {
		t.Errorf("dropped resources %d", rep.DroppedResources)
	}
	var kept, dropped int64
	for _, r := range rep.Routes {
		for _, s := range []*ShapeReport{r.Request, r.Response} {
			if s != nil {
				kept += int64(len(s.Fields))
				dropped += s.DroppedFields
			}
		}
		if r.Method == "OTHER" && r.Failures["other"] != 1 {
			t.Errorf("BREW -> 999: %+v", r)
		}
	}
	if kept != 5 || dropped == 0 {
		t.Errorf("fields kept %d (want MaxTotalFields 5), dropped %d", kept, dropped)
	}
	load(t, m)
}

func TestDeepNestingFields(t *testing.T) {
	m := New(Options{})
	body := strings.Repeat(`{"a":[`, 60) + "1" + strings.Repeat("]}", 60)
	m.Observe(ex("POST", "/api/things", 201, body, `{"id":1}`))
	rep := m.Report()
	req := rep.Routes[0].Request
	if req == nil || req.Truncated != 1 || len(req.Fields) != 6 {
		t.Fatalf("request shape %+v", req)
	}
	if deepest := req.Fields[5].Path; deepest != "a[].a[].a[]" {
		t.Errorf("deepest path %q", deepest)
	}
}

// TestConcurrentUse runs Observe, Report and Rules at once (go test -race).
func TestConcurrentUse(t *testing.T) {
	m := New(Options{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprint(w*1000 + i)
				m.Observe(ex("POST", "/api/orders", 201, `{}`, `{"id":`+id+`,"status":"new"}`))
				m.Observe(ex("PUT", "/api/orders/"+id, 200, `{"status":"paid"}`, `{"id":`+id+`,"status":"paid"}`))
				if i%50 == 0 {
					b, err := json.Marshal(m.Report())
					if err != nil || len(b) == 0 {
						t.Errorf("report: %v", err)
					}
					_ = m.Rules()
				}
			}
		})
	}
	wg.Wait()
	if rep := m.Report(); rep.Exchanges != 1600 {
		t.Errorf("exchanges %d", rep.Exchanges)
	}
	load(t, m)
}

func TestReportJSON(t *testing.T) {
	m := New(Options{})
	observe(m,
		ex("POST", "/api/orders", 201, `{"password":"x"}`, `{"data":{"id":1,"status":"new"}}`),
		ex("POST", "/api/orders", 422, `{}`, `{"detail":"x"}`),
		ex("PUT", "/api/orders/1", 200, `{"status":"paid"}`, `{"data":{"id":1,"status":"paid"}}`),
		ex("GET", "/api/orders/1", 200, ``, `{"data":{"id":1,"status":"paid"}}`),
	)
	b, err := json.Marshal(m.Report())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Exchanges int64 `json:"exchanges"`
		Routes    []struct {
			Method, Path, Resource, Role string
			Statuses, Failures           map[string]int64
			Response                     struct {
				Kind, Envelope string
				Fields         []struct {
					Path  string
					Types []string
				}
			}
		} `json:"routes"`
		Resources []struct {
			Name, Collection, Item, Read string
			IDField                      string `json:"id_field"`
			States                       []struct{ Field string }
		} `json:"resources"`
		Secrets []struct{ Side, Field string } `json:"secrets"`
		Bounds  struct {
			MaxTemplates int `json:"max_templates"`
		} `json:"bounds"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	post := got.Routes[0]
	if got.Exchanges != 4 || post.Method != "POST" || post.Path != "/api/orders" || post.Role != "create" || post.Resource != "order" ||
		post.Statuses["201"] != 1 || post.Failures["4xx"] != 1 || post.Response.Kind != "object" || post.Response.Envelope != "data" ||
		post.Response.Fields[0].Path != "id" || post.Response.Fields[0].Types[0] != "number" {
		t.Errorf("POST route: %+v", post)
	}
	if len(got.Resources) != 1 || got.Resources[0].Name != "order" || got.Resources[0].IDField != "id" ||
		got.Resources[0].Read != "GET /api/orders/{id}" || len(got.Resources[0].States) != 1 {
		t.Errorf("resources: %+v", got.Resources)
	}
	if len(got.Secrets) != 1 || got.Secrets[0].Field != "password" || got.Bounds.MaxTemplates != 5000 {
		t.Errorf("secrets %+v bounds %+v", got.Secrets, got.Bounds)
	}
}
