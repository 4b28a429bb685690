package learnmodel_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
	"github.com/caddy-webhooks/caddy-webhooks/learn"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// recorder sends requests to an app in-process and gives each exchange
// to the model, as the handler does in front of a real app.
type recorder struct {
	t    *testing.T
	app  http.Handler
	m    *learn.Model
	user string        // X-User-Id (the CRM's gateway header), "" for none
	pace time.Duration // between writes: people click, and timestamps have milliseconds
}

func (rc *recorder) do(method, path, body string) (int, gjson.Result) {
	rc.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if rc.user != "" {
		req.Header.Set("X-User-Id", rc.user)
	}
	if method != http.MethodGet {
		time.Sleep(rc.pace)
	}
	w := httptest.NewRecorder()
	rc.app.ServeHTTP(w, req)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	rc.m.Observe(&learn.Exchange{
		Method: method, Path: req.URL.Path, Status: res.StatusCode,
		RequestType: req.Header.Get("Content-Type"), ResponseType: res.Header.Get("Content-Type"),
		RequestBody: []byte(body), ResponseBody: b,
	})
	return res.StatusCode, gjson.ParseBytes(b)
}

// must sends a request that must answer code, and returns its body.
func (rc *recorder) must(code int, method, path, body string) gjson.Result {
	rc.t.Helper()
	got, b := rc.do(method, path, body)
	if got != code {
		rc.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, got, b.Raw, code)
	}
	return b
}

// shopSession is a morning at the shop: customers sign up and edit their
// profiles, orders are placed, paid through Stripe, processed, shipped
// and delivered, one is cancelled; with the usual mistakes in between.
func shopSession(rc *recorder) {
	rc.must(200, "GET", "/api/health", "")
	names := [][2]string{{"Marie", "Dupont"}, {"Jean", "Muller"}, {"Sofia", "Rossi"}, {"Luc", "Martin"}, {"Anna", "Keller"}, {"Noah", "Weber"}}
	var customers []string
	for i, n := range names {
		c := rc.must(201, "POST", "/api/customers", fmt.Sprintf(
			`{"email":"%s@example.ch","password":"s3cret-%d","firstName":"%s","lastName":"%s","site":"site-%d"}`,
			strings.ToLower(n[0]), i, n[0], n[1], i%2+1))
		customers = append(customers, c.Get("_id").String())
	}
	rc.must(400, "POST", "/api/customers", `{"email":"x@example.ch"}`)
	rc.must(409, "POST", "/api/customers", `{"email":"MARIE@example.ch","password":"x"}`)
	rc.must(400, "POST", "/api/customers", `{"email":`)
	for i, id := range customers {
		rc.must(200, "GET", "/api/customers/"+id, "")
		rc.must(200, "PUT", "/api/customers/"+id, fmt.Sprintf(`{"phone":"+41 79 000 00 %02d"}`, i))
		if i%2 == 0 {
			rc.must(200, "PUT", "/api/customers/"+id, fmt.Sprintf(`{"lastName":"%s-Meier","firstName":"%s"}`, names[i][1], names[i][0]))
		}
	}
	rc.must(200, "PUT", "/api/customers/"+customers[1], `{"phone":"+41 79 000 00 01"}`) // the same phone again
	rc.must(400, "PUT", "/api/customers/"+customers[0], `{"password":"new"}`)
	rc.must(404, "PUT", "/api/customers/65f1a2b3c4d5e6f708192a3b", `{"phone":"1"}`)
	rc.must(409, "PUT", "/api/customers/"+customers[1], `{"email":"sofia@example.ch"}`)
	rc.must(200, "GET", "/api/customers", "")

	var orders []string
	for i := range 9 {
		site := ""
		if i%3 != 0 {
			site = fmt.Sprintf(`,"site":"site-%d"`, i%2+1)
		}
		o := rc.must(201, "POST", "/api/orders", fmt.Sprintf(
			`{"customer":{"email":"%s@example.ch","name":"%s"},"items":[{"sku":"TSHIRT-M","name":"T-shirt M","quantity":%d,"price":29.9},{"sku":"MUG","name":"Mug","quantity":1,"price":12}]%s}`,
			strings.ToLower(names[i%6][0]), names[i%6][0], i+1, site))
		orders = append(orders, o.Get("_id").String())
		rc.must(200, "GET", "/api/orders/"+o.Get("_id").String(), "")
	}
	rc.must(400, "POST", "/api/orders", `{"customer":{"email":"marie@example.ch"},"items":[]}`)
	rc.must(400, "POST", "/api/orders", `{"customer":{"email":"nope"},"items":[{"sku":"A","quantity":1,"price":1}]}`)
	rc.must(200, "GET", "/api/orders", "")

	// Stripe confirms some payments (once delivered twice), then the
	// back office moves the orders along, by PUT or PATCH.
	for i, id := range orders[:4] {
		body := fmt.Sprintf(`{"id":"evt_%d","type":"checkout.session.completed","created":1795420800,"data":{"object":{"id":"cs_%d","payment_intent":"pi_%d","metadata":{"orderId":"%s"}}}}`, i, i, i, id)
		rc.must(200, "POST", "/api/webhooks/stripe", body)
		if i == 0 {
			rc.must(200, "POST", "/api/webhooks/stripe", body)
		}
	}
	rc.must(200, "POST", "/api/webhooks/stripe", `{"id":"evt_x","type":"charge.refunded","data":{"object":{}}}`)
	rc.must(404, "POST", "/api/webhooks/stripe", `{"id":"evt_y","type":"checkout.session.completed","data":{"object":{"metadata":{"orderId":"65f1a2b3c4d5e6f708192a3b"}}}}`)
	flows := [][]string{
		{"processing", "shipped", "delivered"},
		{"processing", "processing", "shipped"},
		{"paid", "shipped", "shipped", "delivered"},
		{"processing", "cancelled"},
		{"paid", "processing"},
		{"cancelled"},
		{"paid"},
	}
	for i, flow := range flows {
		for j, status := range flow {
			method := "PUT"
			if (i+j)%2 == 1 {
				method = "PATCH"
			}
			body := fmt.Sprintf(`{"status":%q}`, status)
			if status == "shipped" {
				body = fmt.Sprintf(`{"status":"shipped","trackingNumber":"CH%d%d","trackingUrl":"https://track.example/CH%d%d"}`, i, j, i, j)
			}
			rc.must(200, method, "/api/orders/"+orders[i]+"/status", body)
		}
		rc.must(200, "GET", "/api/orders/"+orders[i], "")
	}
	rc.must(409, "PUT", "/api/orders/"+orders[3]+"/status", `{"status":"paid"}`)
	rc.must(400, "PUT", "/api/orders/"+orders[4]+"/status", `{"status":"lost"}`)
	rc.must(404, "PATCH", "/api/orders/65f1a2b3c4d5e6f708192a3b/status", `{"status":"paid"}`)
	rc.must(404, "GET", "/api/orders/65f1a2b3c4d5e6f708192a3b", "")
}

// crmSession is a day at the CRM: organisations, people (also in
// batches from the admin screens), tasks done and snoozed, mandats
// proposed and signed, interactions logged; with refusals in between.
func crmSession(rc *recorder) {
	rc.user = "12" // sales
	rc.must(200, "GET", "/api/v1/auth/me", "")
	orgNames := []string{"ACME Capital", "Banque Alpine", "Rhône Gestion", "Lac Léman Partners", "Jura Invest"}
	cats := []string{"Institution", "Wholesale", "CGPI", "SDG", "Autres"}
	var orgs []string
	for i, n := range orgNames {
		o := rc.must(201, "POST", "/api/v1/organisations", fmt.Sprintf(`{"name":%q,"category":%q,"country_code":"fr","aum":%d}`, n, cats[i], (i+1)*1000000))
		orgs = append(orgs, o.Get("id").String())
	}
	rc.must(409, "POST", "/api/v1/organisations", `{"name":"acme capital","category":"SDG"}`)
	rc.must(422, "POST", "/api/v1/organisations", `{"name":"X","category":"Bank"}`)
	for i, id := range orgs {
		rc.must(200, "GET", "/api/v1/organisations/"+id, "")
		rc.must(200, "PUT", "/api/v1/organisations/"+id, fmt.Sprintf(`{"website":"https://org%d.example","phone":"+33 1 00 00 00 0%d"}`, i, i))
		rc.must(200, "PUT", "/api/v1/organisations/"+id, fmt.Sprintf(`{"website":"https://org%d.example"}`, i)) // changes nothing
	}
	rc.must(200, "PUT", "/api/v1/organisations/"+orgs[2], `{"category":"Institution","notes":"Moved to institutional"}`)
	rc.must(404, "PUT", "/api/v1/organisations/999", `{"notes":"x"}`)
	rc.must(200, "GET", "/api/v1/organisations", "")

	first := []string{"Claire", "Hugo", "Inès", "Louis", "Emma", "Jules", "Léa", "Paul"}
	var people []string
	for i, n := range first[:4] {
		p := rc.must(201, "POST", "/api/v1/people", fmt.Sprintf(`{"first_name":%q,"last_name":"Durand","personal_email":"%s%d@example.fr","organisation_id":%s}`,
			n, strings.ToLower(n[:1]), i, orgs[i%len(orgs)]))
		people = append(people, p.Get("id").String())
	}
	batch := rc.must(201, "POST", "/api/v1/people", `[{"first_name":"Emma","last_name":"Roux"},{"first_name":"Jules","last_name":"Faure","role":"CIO"},{"first_name":"Léa","last_name":"Blanc"}]`)
	for _, p := range batch.Array() {
		people = append(people, p.Get("id").String())
	}
	rc.must(409, "POST", "/api/v1/people", `{"first_name":"X","last_name":"Y","personal_email":"c0@example.fr"}`)
	rc.must(422, "POST", "/api/v1/people", `{"first_name":"X"}`)
	for i, id := range people {
		rc.must(200, "GET", "/api/v1/people/"+id, "")
		rc.must(200, "PUT", "/api/v1/people/"+id, fmt.Sprintf(`{"role":"Analyste %d"}`, i))
	}
	rc.must(200, "PUT", "/api/v1/people/"+people[0], `{"role":"Analyste 0"}`) // changes nothing
	rc.must(200, "PATCH", "/api/v1/people", fmt.Sprintf(`{"keys":[%s,%s],"data":{"language":"EN"}}`, people[1], people[2]))
	rc.must(200, "PATCH", "/api/v1/people", fmt.Sprintf(`{"keys":[%s],"data":{"personal_phone":"+33 6 00 00 00 00"}}`, people[3]))
	rc.must(404, "PATCH", "/api/v1/people", `{"keys":[999],"data":{"role":"x"}}`)
	rc.user = "1" // admin deletes
	rc.must(204, "DELETE", "/api/v1/people/"+people[6], "")
	rc.must(204, "DELETE", "/api/v1/people", fmt.Sprintf(`[%s]`, people[5]))
	rc.user = "12"
	rc.must(403, "DELETE", "/api/v1/people/"+people[4], "")

	var tasks []string
	for i, title := range []string{"Rappeler ACME", "Envoyer le DICI", "Préparer la réunion"} {
		tk := rc.must(201, "POST", "/api/v1/tasks", fmt.Sprintf(`{"title":%q,"due_date":"2026-12-0%d","organisation_id":%s}`, title, i+1, orgs[i]))
		tasks = append(tasks, tk.Get("id").String())
	}
	tb := rc.must(201, "POST", "/api/v1/tasks", `[{"title":"Relancer","due_date":"2026-12-10","priority":"haute"},{"title":"Mettre à jour le CRM","due_date":"2026-12-11","status":"doing"}]`)
	for _, tk := range tb.Array() {
		tasks = append(tasks, tk.Get("id").String())
	}
	rc.must(422, "POST", "/api/v1/tasks", `{"title":"x"}`)
	for _, id := range tasks {
		rc.must(200, "GET", "/api/v1/tasks/"+id, "")
	}
	rc.must(200, "PUT", "/api/v1/tasks/"+tasks[0], `{"status":"doing"}`)
	rc.must(200, "PUT", "/api/v1/tasks/"+tasks[0], `{"status":"done"}`)
	rc.must(200, "PUT", "/api/v1/tasks/"+tasks[0], `{"status":"done"}`) // changes nothing
	rc.must(200, "POST", "/api/v1/tasks/"+tasks[1]+"/quick-action", `{"action":"snooze_1d"}`)
	rc.must(200, "POST", "/api/v1/tasks/"+tasks[1]+"/quick-action", `{"action":"mark_done"}`)
	rc.must(200, "POST", "/api/v1/tasks/"+tasks[1]+"/quick-action", `{"action":"mark_done"}`) // changes nothing
	rc.must(409, "POST", "/api/v1/tasks/"+tasks[1]+"/quick-action", `{"action":"snooze_1w"}`)
	rc.must(200, "POST", "/api/v1/tasks/"+tasks[2]+"/quick-action", `{"action":"next_day"}`)
	rc.must(422, "POST", "/api/v1/tasks/"+tasks[2]+"/quick-action", `{"action":"later"}`)
	rc.must(200, "PATCH", "/api/v1/tasks", fmt.Sprintf(`{"keys":[%s,%s],"data":{"status":"done"}}`, tasks[3], tasks[4]))
	rc.must(200, "PUT", "/api/v1/tasks/"+tasks[3], `{"status":"todo","title":"Relancer encore"}`)
	rc.must(204, "DELETE", "/api/v1/tasks/"+tasks[2], "")
	rc.must(404, "GET", "/api/v1/tasks/"+tasks[2], "")

	var mandats []string
	for i, org := range orgs[:4] {
		status := ""
		if i == 3 {
			status = `,"status":"signé"`
		}
		md := rc.must(201, "POST", "/api/v1/mandats", fmt.Sprintf(`{"organisation_id":%s,"numero_mandat":"M-%d"%s}`, org, i, status))
		mandats = append(mandats, md.Get("id").String())
	}
	rc.must(422, "POST", "/api/v1/mandats", `{"organisation_id":999}`)
	for i, id := range mandats {
		rc.must(200, "GET", "/api/v1/mandats/"+id, "")
		if i < 3 {
			rc.must(200, "PUT", "/api/v1/mandats/"+id, `{"status":"signé"}`)
			rc.must(200, "PUT", "/api/v1/mandats/"+id, `{"status":"signé"}`) // changes nothing
		}
	}
	rc.must(200, "PUT", "/api/v1/mandats/"+mandats[0], `{"status":"actif","date_debut":"2026-12-01"}`)
	rc.must(200, "PUT", "/api/v1/mandats/"+mandats[1], `{"notes":"Renouvellement en 2027"}`)
	rc.must(422, "PUT", "/api/v1/mandats/"+mandats[1], `{"status":"signe"}`)

	var interactions []string
	for i, org := range orgs[:3] {
		in := rc.must(201, "POST", "/api/v1/interactions/organisation/"+org, fmt.Sprintf(`{"type":"call","subject":"Appel %d","person_id":%s}`, i, people[i]))
		interactions = append(interactions, in.Get("id").String())
	}
	rc.must(404, "POST", "/api/v1/interactions/organisation/999", `{"type":"call","subject":"x"}`)
	for i, id := range interactions {
		rc.must(200, "GET", "/api/v1/interactions/"+id, "")
		rc.must(200, "PUT", "/api/v1/interactions/"+id, fmt.Sprintf(`{"notes":"Compte rendu %d"}`, i))
	}
	rc.must(200, "PUT", "/api/v1/interactions/"+interactions[0], `{"notes":"Compte rendu 0"}`) // changes nothing

	rc.user = "1"
	rc.must(204, "DELETE", "/api/v1/organisations/"+orgs[4], "")
	rc.must(204, "DELETE", "/api/v1/mandats/"+mandats[2], "")
	rc.must(204, "DELETE", "/api/v1/interactions/"+interactions[2], "")
	rc.user = "30" // a viewer may not write
	rc.must(403, "PUT", "/api/v1/organisations/"+orgs[0], `{"notes":"x"}`)
	rc.user = ""
	rc.must(401, "GET", "/api/v1/organisations", "")
	rc.must(200, "GET", "/api/v1/health", "")
}

// event is a rule the proposal must have: name, method, path (any
// {param} names) and status.
type event struct {
	name, method, path string
	status             int
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// find returns the specs named name that match method on path (param
// names aside) with status.
func find(specs []rules.Spec, e event) []rules.Spec {
	var out []rules.Spec
	for _, s := range specs {
		if s.Name == e.name && slices.Contains(s.Match.Method, e.method) &&
			paramRE.ReplaceAllString(s.Match.Path, "{}") == paramRE.ReplaceAllString(e.path, "{}") &&
			slices.Contains(s.Match.Status, strconv.Itoa(e.status)) {
			out = append(out, s)
		}
	}
	return out
}

// load parses and compiles a proposal, failing the test if it does not load.
func load(t *testing.T, yaml []byte) []rules.Spec {
	t.Helper()
	specs, err := rules.Parse("proposal.yaml", yaml)
	if err != nil {
		t.Fatalf("the proposal does not parse: %v\n%s", err, yaml)
	}
	if _, err := rules.Compile(specs); err != nil {
		t.Fatalf("the proposal does not compile: %v\n%s", err, yaml)
	}
	return specs
}

// check runs a session against an app and checks the proposal.
func check(t *testing.T, app http.Handler, session func(*recorder), want []event, changes []event, field string) {
	m := learn.New(learn.Options{})
	session(&recorder{t: t, app: app, m: m, pace: 2 * time.Millisecond})
	proposal := m.Rules()
	t.Logf("proposal:\n%s", proposal)
	report, err := json.MarshalIndent(m.Report(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %d bytes of JSON", len(report))
	specs := load(t, proposal)
	for _, e := range want {
		if len(find(specs, e)) == 0 {
			t.Errorf("no rule %s on %s %s -> %d", e.name, e.method, e.path, e.status)
		}
	}
	for _, e := range changes {
		found := find(specs, e)
		if len(found) == 0 {
			t.Errorf("no rule %s on %s %s -> %d", e.name, e.method, e.path, e.status)
			continue
		}
		for _, s := range found {
			if s.State == nil || !strings.Contains(s.When, "previous."+field+" != ") {
				t.Errorf("%s on %s %s: state %v, when %q: want a state and a comparison of previous.%s", e.name, e.method, e.path, s.State, s.When, field)
			}
		}
	}
}

func TestLearnShop(t *testing.T) {
	check(t, shop.New(), shopSession, []event{
		{"order.created", "POST", "/api/orders", 201},
		{"customer.created", "POST", "/api/customers", 201},
		{"customer.updated", "PUT", "/api/customers/{id}", 200},
	}, []event{
		{"order.status_changed", "PUT", "/api/orders/{id}/status", 200},
		{"order.status_changed", "PATCH", "/api/orders/{id}/status", 200},
	}, "status")
}

func TestLearnCRM(t *testing.T) {
	check(t, crm.New(), crmSession, []event{
		{"organisation.created", "POST", "/api/v1/organisations", 201},
		{"organisation.updated", "PUT", "/api/v1/organisations/{id}", 200},
		{"organisation.deleted", "DELETE", "/api/v1/organisations/{id}", 204},
		{"person.created", "POST", "/api/v1/people", 201},
		{"person.updated", "PUT", "/api/v1/people/{id}", 200},
		{"person.updated", "PATCH", "/api/v1/people", 200},
		{"person.deleted", "DELETE", "/api/v1/people/{id}", 204},
		{"person.deleted", "DELETE", "/api/v1/people", 204},
		{"task.created", "POST", "/api/v1/tasks", 201},
		{"mandat.created", "POST", "/api/v1/mandats", 201},
		{"mandat.updated", "PUT", "/api/v1/mandats/{id}", 200},
		{"interaction.created", "POST", "/api/v1/interactions/organisation/{id}", 201},
		{"interaction.updated", "PUT", "/api/v1/interactions/{id}", 200},
	}, []event{
		{"task.status_changed", "PUT", "/api/v1/tasks/{id}", 200},
		{"task.status_changed", "POST", "/api/v1/tasks/{id}/quick-action", 200},
		{"task.status_changed", "PATCH", "/api/v1/tasks", 200},
		{"mandat.status_changed", "PUT", "/api/v1/mandats/{id}", 200},
	}, "status")
}
