package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/examples/internal/demoapp"
)

// Users of crm.Users, by role.
const (
	admin    = "1"
	sales    = "12"
	viewer   = "30"
	inactive = "41"
)

// t0 is the stopped clock's time; its date is "2026-11-23".
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)

// clock is a settable clock shared by a test and the CRM.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// api sends requests to a CRM whose clock is stopped at t0.
type api struct {
	t     *testing.T
	h     http.Handler
	clock *clock
}

func newAPI(t *testing.T) *api {
	c := &clock{now: t0}
	return &api{t: t, h: crm.NewAt(c.Now), clock: c}
}

// resp is one answer.
type resp struct {
	code int
	body string
	hdr  http.Header
}

func (r resp) get(path string) gjson.Result { return gjson.Get(r.body, path) }

// do sends a request as user ("" for none).
func (a *api) do(user, method, path, body string) resp {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set(crm.UserHeader, user)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return resp{code: rec.Code, body: rec.Body.String(), hdr: rec.Header()}
}

// must sends a request as user and fails unless the status is want.
func (a *api) must(user, method, path, body string, want int) resp {
	a.t.Helper()
	r := a.do(user, method, path, body)
	if r.code != want {
		a.t.Fatalf("%s %s as %q: %d %s, want %d", method, path, user, r.code, r.body, want)
	}
	return r
}

// create POSTs body to path as the sales user and returns the new id.
func (a *api) create(path, body string) string {
	a.t.Helper()
	return a.must(sales, "POST", path, body, 201).get("id").String()
}

// wantDetail checks an error answer: status, and a detail containing
// want (401, 403, 404, 409) or a 422 entry at loc.
func wantDetail(t *testing.T, r resp, status int, want string) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if ct := r.hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if status == 422 {
		for _, e := range r.get("detail").Array() {
			if strings.Join(strings.Fields(strings.Trim(e.Get("loc").Raw, "[]")), "") == want {
				return
			}
		}
		t.Fatalf("no 422 entry at %s: %s", want, r.body)
	}
	if d := r.get("detail").String(); !strings.Contains(d, want) {
		t.Fatalf("detail %q, want it to contain %q", d, want)
	}
}

// TestRunLogsUser: the CRM's request log names the user the SSO
// gateway passed on (the listening and shutdown are demoapp's, tested
// there).
func TestRunLogsUser(t *testing.T) {
	var logs strings.Builder
	log.SetOutput(&logs)
	t.Cleanup(func() { log.SetOutput(io.Discard) })
	srv := httptest.NewServer(demoapp.LogRequests(crm.New(), logUser))
	defer srv.Close()
	for _, tt := range []struct{ user, path, log string }{
		{"", "/api/v1/health", "GET /api/v1/health user=- 200"},
		{sales, "/api/v1/auth/me", "GET /api/v1/auth/me user=12 200"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		if tt.user != "" {
			req.Header.Set(crm.UserHeader, tt.user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !strings.Contains(logs.String(), tt.log) {
			t.Errorf("request not logged as %q: %q", tt.log, logs.String())
		}
	}
}

func TestAuthentication(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	tests := []struct {
		name, user, method, path, body string
		want                           int
	}{
		{"health needs no user", "", "GET", "/api/v1/health", "", 200},
		{"no header", "", "GET", "/api/v1/organisations", "", 401},
		{"not a number", "marie", "GET", "/api/v1/organisations", "", 401},
		{"unknown user", "999", "GET", "/api/v1/organisations", "", 401},
		{"inactive user", inactive, "GET", "/api/v1/organisations", "", 401},
		{"no header, write", "", "POST", "/api/v1/organisations", `{"name":"X","category":"SDG"}`, 401},
		{"viewer reads", viewer, "GET", "/api/v1/organisations/" + org, "", 200},
		{"viewer creates", viewer, "POST", "/api/v1/organisations", `{"name":"X","category":"SDG"}`, 403},
		{"viewer updates", viewer, "PUT", "/api/v1/organisations/" + org, `{"name":"Y"}`, 403},
		{"viewer quick action", viewer, "POST", "/api/v1/tasks/1/quick-action", `{"action":"mark_done"}`, 403},
		{"sales deletes an organisation", sales, "DELETE", "/api/v1/organisations/" + org, "", 403},
		{"sales deletes a person", sales, "DELETE", "/api/v1/people/1", "", 403},
		{"unknown path", sales, "GET", "/api/v1/nope", "", 404},
		{"wrong method", sales, "PATCH", "/api/v1/organisations/" + org, `{}`, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.user, tt.method, tt.path, tt.body)
			if r.code != tt.want {
				t.Fatalf("%d %s, want %d", r.code, r.body, tt.want)
			}
			switch tt.want {
			case 401:
				wantDetail(t, r, 401, "Not authenticated")
			case 403:
				wantDetail(t, r, 403, "Permissions insuffisantes")
			}
		})
	}
	if n := a.must(admin, "GET", "/api/v1/organisations", "", 200).get("total").Int(); n != 1 {
		t.Errorf("%d organisations after refused writes, want 1", n)
	}
	me := a.must(sales, "GET", "/api/v1/auth/me", "", 200)
	if me.body != `{"id":12,"email":"marie.durand@alforis.fr","full_name":"Marie Durand","role":"sales","is_active":true}` {
		t.Errorf("me: %s", me.body)
	}
}

func TestOrganisationCreate(t *testing.T) {
	a := newAPI(t)
	r := a.must(sales, "POST", "/api/v1/organisations", `{"name":" ACME Capital ","category":"Institution","country_code":"fr","aum":1.5e9,"email":"Contact@ACME.fr"}`, 201)
	want := `{"id":1,"name":"ACME Capital","category":"Institution","country_code":"FR","language":"FR","website":null,"email":"contact@acme.fr","phone":null,"aum":1500000000,"notes":null,"is_active":true,"created_by":12,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	if got := a.must(viewer, "GET", "/api/v1/organisations/1", "", 200).body; got != want {
		t.Errorf("GET differs from the 201 answer: %s", got)
	}
	a.clock.Set(time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC))
	if r := a.must(sales, "POST", "/api/v1/organisations", `{"name":"Beta","category":"SDG"}`, 201); r.get("id").Int() != 2 || r.get("created_at").String() != "2026-11-23T11:00:00" {
		t.Errorf("second: %s", r.body)
	}

	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"duplicate name", `{"name":"acme capital","category":"CGPI"}`, 409, "existe déjà"},
		{"missing name", `{"category":"SDG"}`, 422, `"body","name"`},
		{"empty name", `{"name":"  ","category":"SDG"}`, 422, `"body","name"`},
		{"null name", `{"name":null,"category":"SDG"}`, 422, `"body","name"`},
		{"name not a string", `{"name":5,"category":"SDG"}`, 422, `"body","name"`},
		{"missing category", `{"name":"Gamma"}`, 422, `"body","category"`},
		{"unknown category", `{"name":"Gamma","category":"Banque"}`, 422, `"body","category"`},
		{"bad country", `{"name":"Gamma","category":"SDG","country_code":"FRA"}`, 422, `"body","country_code"`},
		{"bad email", `{"name":"Gamma","category":"SDG","email":"nobody"}`, 422, `"body","email"`},
		{"negative aum", `{"name":"Gamma","category":"SDG","aum":-1}`, 422, `"body","aum"`},
		{"extra field", `{"name":"Gamma","category":"SDG","id":7}`, 422, `"body","id"`},
		{"bad JSON", `{"name":`, 422, `"body"`},
		{"empty body", ``, 422, `"body"`},
		{"not an object", `["Gamma"]`, 422, `"body"`},
		{"null body", `null`, 422, `"body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDetail(t, a.do(sales, "POST", "/api/v1/organisations", tt.body), tt.status, tt.want)
		})
	}
	if n := a.must(sales, "GET", "/api/v1/organisations", "", 200).get("total").Int(); n != 2 {
		t.Errorf("%d organisations after failed creates, want 2", n)
	}
}

func TestOrganisationUpdate(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		want       string            // error: detail or 422 loc
		fields     map[string]string // success: field -> raw JSON
		unchanged  bool              // success: updated_at did not move
	}{
		{name: "one field", body: `{"country_code":"ch"}`, status: 200, fields: map[string]string{"country_code": `"CH"`, "name": `"ACME Capital"`, "category": `"Institution"`}},
		{name: "clear a field", body: `{"website":null}`, status: 200, fields: map[string]string{"website": "null"}},
		{name: "several", body: `{"name":"ACME Capital SA","category":"Wholesale","is_active":false}`, status: 200,
			fields: map[string]string{"name": `"ACME Capital SA"`, "category": `"Wholesale"`, "is_active": "false", "country_code": `"FR"`}},
		{name: "empty object", body: `{}`, status: 200, unchanged: true},
		{name: "same values", body: `{"name":"ACME Capital","country_code":"FR","website":"https://acme.fr"}`, status: 200, unchanged: true},
		{name: "own name, other case", body: `{"name":"acme capital"}`, status: 200, fields: map[string]string{"name": `"acme capital"`}},
		{name: "null name", body: `{"name":null}`, status: 422, want: `"body","name"`},
		{name: "unknown category", body: `{"category":"Banque"}`, status: 422, want: `"body","category"`},
		{name: "read-only field", body: `{"created_by":1}`, status: 422, want: `"body","created_by"`},
		{name: "name taken", body: `{"name":"BETA"}`, status: 409, want: "existe déjà"},
		{name: "bad JSON", body: `{"name"`, status: 422, want: `"body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			id := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution","country_code":"FR","website":"https://acme.fr"}`)
			a.create("/api/v1/organisations", `{"name":"Beta","category":"SDG"}`)
			before := a.must(sales, "GET", "/api/v1/organisations/"+id, "", 200)
			a.clock.Set(t0.Add(time.Hour))
			r := a.do(sales, "PUT", "/api/v1/organisations/"+id, tt.body)
			after := a.must(sales, "GET", "/api/v1/organisations/"+id, "", 200)
			if tt.status != 200 {
				wantDetail(t, r, tt.status, tt.want)
				if after.body != before.body {
					t.Errorf("changed after an error: %s", after.body)
				}
				return
			}
			if r.code != 200 || r.body != after.body {
				t.Fatalf("%d %s; stored %s", r.code, r.body, after.body)
			}
			if tt.unchanged {
				if r.body != before.body {
					t.Errorf("a no-op update changed the document:\n%s\n%s", before.body, r.body)
				}
				return
			}
			if r.get("updated_at").String() != "2026-11-23T11:00:00.123456" || r.get("created_at").String() != before.get("created_at").String() {
				t.Errorf("timestamps: %s", r.body)
			}
			for f, v := range tt.fields {
				if got := r.get(f).Raw; got != v {
					t.Errorf("%s = %s, want %s", f, got, v)
				}
			}
		})
	}
	a := newAPI(t)
	wantDetail(t, a.do(sales, "PUT", "/api/v1/organisations/99", `{"name":"X"}`), 404, "Organisation 99 introuvable")
	wantDetail(t, a.do(sales, "PUT", "/api/v1/organisations/abc", `{"name":"X"}`), 422, `"path","organisation_id"`)
	wantDetail(t, a.do(sales, "GET", "/api/v1/organisations/99", ``), 404, "Organisation 99 introuvable")
	wantDetail(t, a.do(sales, "GET", "/api/v1/organisations/0", ``), 422, `"path","organisation_id"`)
}

func TestOrganisationDeleteCascades(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	other := a.create("/api/v1/organisations", `{"name":"Beta","category":"SDG"}`)
	person := a.create("/api/v1/people", `{"first_name":"Jean","last_name":"Dupont","organisation_id":`+org+`}`)
	task := a.create("/api/v1/tasks", `{"title":"Appeler","due_date":"2026-12-01","organisation_id":`+org+`}`)
	a.create("/api/v1/mandats", `{"organisation_id":`+org+`}`)
	keptMandat := a.create("/api/v1/mandats", `{"organisation_id":`+other+`}`)
	a.create("/api/v1/interactions/organisation/"+org, `{"type":"call","subject":"Intro"}`)

	wantDetail(t, a.do(sales, "DELETE", "/api/v1/organisations/"+org, ""), 403, "Permissions")
	r := a.must(admin, "DELETE", "/api/v1/organisations/"+org, "", 204)
	if r.body != "" {
		t.Errorf("204 with a body: %q", r.body)
	}
	wantDetail(t, a.do(admin, "DELETE", "/api/v1/organisations/"+org, ""), 404, "introuvable")
	wantDetail(t, a.do(admin, "GET", "/api/v1/organisations/"+org, ""), 404, "introuvable")
	if got := a.must(sales, "GET", "/api/v1/mandats", "", 200); got.get("total").Int() != 1 || got.get("items.0.id").String() != keptMandat {
		t.Errorf("mandats after the delete: %s", got.body)
	}
	if n := a.must(sales, "GET", "/api/v1/interactions", "", 200).get("total").Int(); n != 0 {
		t.Errorf("%d interactions left", n)
	}
	if p := a.must(sales, "GET", "/api/v1/people/"+person, "", 200); p.get("organisation_id").Raw != "null" {
		t.Errorf("person keeps the organisation: %s", p.body)
	}
	if tk := a.must(sales, "GET", "/api/v1/tasks/"+task, "", 200); tk.get("organisation_id").Raw != "null" {
		t.Errorf("task keeps the organisation: %s", tk.body)
	}
	// Ids are never reused.
	if id := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`); id != "3" {
		t.Errorf("new id %s, want 3", id)
	}
}

func TestLists(t *testing.T) {
	a := newAPI(t)
	for i, body := range []string{
		`{"name":"A","category":"Institution","country_code":"FR"}`,
		`{"name":"B","category":"SDG","country_code":"CH"}`,
		`{"name":"C","category":"Institution","country_code":"CH"}`,
	} {
		if id := a.create("/api/v1/organisations", body); id != fmt.Sprint(i+1) {
			t.Fatalf("id %s", id)
		}
	}
	a.create("/api/v1/mandats", `{"organisation_id":1,"status":"signé"}`)
	a.create("/api/v1/mandats", `{"organisation_id":3}`)
	a.create("/api/v1/tasks", `{"title":"T","due_date":"2026-12-01","status":"done"}`)
	tests := []struct {
		path  string
		names string // the items' ids
		total int
	}{
		{"/api/v1/organisations", "[1,2,3]", 3},
		{"/api/v1/organisations?category=Institution", "[1,3]", 2},
		{"/api/v1/organisations?country_code=ch", "[2,3]", 2},
		{"/api/v1/organisations?skip=1&limit=1", "[2]", 3},
		{"/api/v1/organisations?skip=5", "[]", 3},
		{"/api/v1/mandats?organisation_id=3", "[2]", 1},
		{"/api/v1/mandats?status=sign%C3%A9", "[1]", 1},
		{"/api/v1/tasks?status=done", "[1]", 1},
		{"/api/v1/tasks?status=todo", "[]", 0},
		{"/api/v1/people", "[]", 0},
	}
	for _, tt := range tests {
		r := a.must(viewer, "GET", tt.path, "", 200)
		if ids := r.get("items.#.id").Raw; ids != tt.names || r.get("total").Int() != int64(tt.total) {
			t.Errorf("%s: ids %s total %d, want %s %d", tt.path, ids, r.get("total").Int(), tt.names, tt.total)
		}
	}
	for _, p := range []string{"/api/v1/organisations?limit=0", "/api/v1/organisations?limit=1001", "/api/v1/tasks?skip=-1", "/api/v1/mandats?organisation_id=x"} {
		if r := a.do(viewer, "GET", p, ""); r.code != 422 {
			t.Errorf("%s: %d %s", p, r.code, r.body)
		}
	}
}

func TestPeople(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	r := a.must(sales, "POST", "/api/v1/people", `{"first_name":"Jean","last_name":"Dupont","personal_email":"Jean.Dupont@ACME.fr","role":"CIO","organisation_id":`+org+`}`, 201)
	want := `{"id":1,"first_name":"Jean","last_name":"Dupont","personal_email":"jean.dupont@acme.fr","personal_phone":null,"role":"CIO","linkedin_url":null,"country_code":null,"language":"FR","organisation_id":1,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	a.create("/api/v1/people", `{"first_name":"Anne","last_name":"Martin","personal_email":"anne@beta.fr"}`)
	errs := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/api/v1/people", `{"first_name":"X","last_name":"Y","personal_email":"JEAN.DUPONT@acme.fr"}`, 409, "existe déjà"},
		{"POST", "/api/v1/people", `{"first_name":"X"}`, 422, `"body","last_name"`},
		{"POST", "/api/v1/people", `{"first_name":"X","last_name":"Y","organisation_id":99}`, 422, `"body","organisation_id"`},
		{"POST", "/api/v1/people", `{"first_name":"X","last_name":"Y","organisation_id":"1"}`, 422, `"body","organisation_id"`},
		{"PUT", "/api/v1/people/1", `{"personal_email":"anne@beta.fr"}`, 409, "existe déjà"},
		{"PUT", "/api/v1/people/1", `{"first_name":""}`, 422, `"body","first_name"`},
		{"PUT", "/api/v1/people/99", `{"role":"CEO"}`, 404, "Personne 99 introuvable"},
	}
	for _, e := range errs {
		wantDetail(t, a.do(sales, e.method, e.path, e.body), e.status, e.want)
	}
	a.clock.Set(t0.Add(time.Minute))
	r = a.must(sales, "PUT", "/api/v1/people/1", `{"role":"Directeur des investissements","organisation_id":null}`, 200)
	if r.get("role").String() != "Directeur des investissements" || r.get("organisation_id").Raw != "null" ||
		r.get("first_name").String() != "Jean" || r.get("updated_at").String() != "2026-11-23T10:01:00.123456" {
		t.Errorf("updated: %s", r.body)
	}
	task := a.create("/api/v1/tasks", `{"title":"Rappeler Jean","due_date":"2026-12-01","person_id":1}`)
	a.create("/api/v1/interactions/organisation/"+org, `{"type":"meeting","subject":"Déjeuner","person_id":1}`)
	wantDetail(t, a.do(sales, "DELETE", "/api/v1/people/1", ""), 403, "Permissions")
	a.must(admin, "DELETE", "/api/v1/people/1", "", 204)
	wantDetail(t, a.do(admin, "DELETE", "/api/v1/people/1", ""), 404, "introuvable")
	if tk := a.must(sales, "GET", "/api/v1/tasks/"+task, "", 200); tk.get("person_id").Raw != "null" {
		t.Errorf("task keeps the person: %s", tk.body)
	}
	if i := a.must(sales, "GET", "/api/v1/interactions/1", "", 200); i.get("person_id").Raw != "null" {
		t.Errorf("interaction keeps the person: %s", i.body)
	}
	// The deleted person's email is free again.
	a.create("/api/v1/people", `{"first_name":"Jean","last_name":"Dupont","personal_email":"jean.dupont@acme.fr"}`)
}

func TestTasks(t *testing.T) {
	a := newAPI(t)
	r := a.must(sales, "POST", "/api/v1/tasks", `{"title":"Rappeler ACME","due_date":"2026-11-20"}`, 201)
	want := `{"id":1,"title":"Rappeler ACME","description":null,"status":"todo","priority":"moyenne","due_date":"2026-11-20","snoozed_until":null,"completed_at":null,"organisation_id":null,"person_id":null,"created_by":12,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	for _, e := range []struct{ body, loc string }{
		{`{"title":"T"}`, `"body","due_date"`},
		{`{"title":"T","due_date":"20/11/2026"}`, `"body","due_date"`},
		{`{"title":"T","due_date":"2026-11-20","priority":"urgente"}`, `"body","priority"`},
		{`{"title":"T","due_date":"2026-11-20","status":"finished"}`, `"body","status"`},
		{`{"title":"T","due_date":"2026-11-20","completed_at":"2026-11-20T00:00:00"}`, `"body","completed_at"`},
		{`{"title":"T","due_date":"2026-11-20","person_id":5}`, `"body","person_id"`},
	} {
		wantDetail(t, a.do(sales, "POST", "/api/v1/tasks", e.body), 422, e.loc)
	}

	// PUT: status done completes the task once; another status reopens it.
	steps := []struct {
		at                  time.Duration
		body                string
		status, completedAt string // completedAt: raw JSON
		moves               bool   // updated_at moves
	}{
		{time.Hour, `{"status":"doing"}`, "doing", "null", true},
		{2 * time.Hour, `{"status":"done","title":"Rappeler ACME (fait)"}`, "done", `"2026-11-23T12:00:00.123456"`, true},
		{3 * time.Hour, `{"status":"done"}`, "done", `"2026-11-23T12:00:00.123456"`, false},
		{4 * time.Hour, `{"status":"todo"}`, "todo", "null", true},
		{5 * time.Hour, `{"status":"done"}`, "done", `"2026-11-23T15:00:00.123456"`, true},
	}
	last := r.get("updated_at").String()
	for i, s := range steps {
		a.clock.Set(t0.Add(s.at))
		r := a.must(sales, "PUT", "/api/v1/tasks/1", s.body, 200)
		if r.get("status").String() != s.status || r.get("completed_at").Raw != s.completedAt {
			t.Errorf("step %d %s: %s", i, s.body, r.body)
		}
		if moved := r.get("updated_at").String() != last; moved != s.moves {
			t.Errorf("step %d: updated_at moved %v, want %v", i, moved, s.moves)
		}
		last = r.get("updated_at").String()
	}
	wantDetail(t, a.do(sales, "PUT", "/api/v1/tasks/9", `{"status":"done"}`), 404, "Tâche 9 introuvable")
	a.must(sales, "DELETE", "/api/v1/tasks/1", "", 204)
	wantDetail(t, a.do(sales, "GET", "/api/v1/tasks/1", ""), 404, "introuvable")
}

func TestTaskQuickActions(t *testing.T) {
	tests := []struct {
		name, before, body string // before: the task's status
		status             int
		want               string // error: detail or 422 loc
		check              map[string]string
	}{
		{name: "mark_done", before: "todo", body: `{"action":"mark_done"}`, status: 200,
			check: map[string]string{"status": `"done"`, "completed_at": `"2026-11-23T11:00:00.123456"`}},
		{name: "mark_done a snoozed task", before: "snoozed", body: `{"action":"mark_done"}`, status: 200,
			check: map[string]string{"status": `"done"`, "snoozed_until": "null"}},
		{name: "mark_done a done task", before: "done", body: `{"action":"mark_done"}`, status: 200,
			check: map[string]string{"status": `"done"`, "completed_at": `"2026-11-23T10:00:00.123456"`}},
		{name: "snooze_1d past due", before: "todo", body: `{"action":"snooze_1d"}`, status: 200,
			check: map[string]string{"status": `"snoozed"`, "due_date": `"2026-11-24"`, "snoozed_until": `"2026-11-24"`}},
		{name: "snooze_1w", before: "doing", body: `{"action":"snooze_1w"}`, status: 200,
			check: map[string]string{"status": `"snoozed"`, "due_date": `"2026-11-30"`}},
		{name: "next_day", before: "todo", body: `{"action":"next_day"}`, status: 200,
			check: map[string]string{"status": `"todo"`, "due_date": `"2026-11-24"`, "completed_at": "null"}},
		{name: "snooze a done task", before: "done", body: `{"action":"snooze_1d"}`, status: 409, want: "déjà terminée"},
		{name: "next_day on a done task", before: "done", body: `{"action":"next_day"}`, status: 409, want: "déjà terminée"},
		{name: "unknown action", before: "todo", body: `{"action":"archive"}`, status: 422, want: `"body","action"`},
		{name: "no action", before: "todo", body: `{}`, status: 422, want: `"body","action"`},
		{name: "extra field", before: "todo", body: `{"action":"mark_done","status":"todo"}`, status: 422, want: `"body","status"`},
		{name: "bad JSON", before: "todo", body: `mark_done`, status: 422, want: `"body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t)
			id := a.create("/api/v1/tasks", `{"title":"Relancer","due_date":"2026-11-20","status":"todo"}`)
			switch tt.before {
			case "snoozed":
				a.must(sales, "POST", "/api/v1/tasks/"+id+"/quick-action", `{"action":"snooze_1d"}`, 200)
			case "doing", "done":
				a.must(sales, "PUT", "/api/v1/tasks/"+id, `{"status":"`+tt.before+`"}`, 200)
			}
			before := a.must(sales, "GET", "/api/v1/tasks/"+id, "", 200)
			a.clock.Set(t0.Add(time.Hour))
			r := a.do(sales, "POST", "/api/v1/tasks/"+id+"/quick-action", tt.body)
			after := a.must(sales, "GET", "/api/v1/tasks/"+id, "", 200)
			if tt.status != 200 {
				wantDetail(t, r, tt.status, tt.want)
				if after.body != before.body {
					t.Errorf("changed after an error: %s", after.body)
				}
				return
			}
			if r.code != 200 || r.body != after.body {
				t.Fatalf("%d %s; stored %s", r.code, r.body, after.body)
			}
			for f, v := range tt.check {
				if got := r.get(f).Raw; got != v {
					t.Errorf("%s = %s, want %s (%s)", f, got, v, r.body)
				}
			}
			if tt.before == "done" && r.body != before.body {
				t.Errorf("mark_done on a done task changed it: %s", r.body)
			}
		})
	}
	a := newAPI(t)
	wantDetail(t, a.do(sales, "POST", "/api/v1/tasks/7/quick-action", `{"action":"mark_done"}`), 404, "Tâche 7 introuvable")
}

func TestMandats(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	r := a.must(sales, "POST", "/api/v1/mandats", `{"organisation_id":`+org+`,"numero_mandat":"M-2026-001"}`, 201)
	want := `{"id":1,"organisation_id":1,"numero_mandat":"M-2026-001","status":"proposé","date_signature":null,"date_debut":null,"date_fin":null,"notes":null,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	// Created signé: without a date, today's; with one, that one.
	if r := a.must(sales, "POST", "/api/v1/mandats", `{"organisation_id":1,"status":"signé"}`, 201); r.get("date_signature").String() != "2026-11-23" {
		t.Errorf("signé without date: %s", r.body)
	}
	if r := a.must(sales, "POST", "/api/v1/mandats", `{"organisation_id":1,"status":"signé","date_signature":"2026-10-01"}`, 201); r.get("date_signature").String() != "2026-10-01" {
		t.Errorf("signé with date: %s", r.body)
	}
	for _, e := range []struct{ body, loc string }{
		{`{}`, `"body","organisation_id"`},
		{`{"organisation_id":99}`, `"body","organisation_id"`},
		{`{"organisation_id":1,"status":"signe"}`, `"body","status"`},
		{`{"organisation_id":1,"status":"SIGNÉ"}`, `"body","status"`},
		{`{"organisation_id":1,"date_signature":"2026-13-01"}`, `"body","date_signature"`},
		{`{"organisation_id":1,"date_debut":"2026-06-01","date_fin":"2026-01-01"}`, `"body","date_fin"`},
	} {
		wantDetail(t, a.do(sales, "POST", "/api/v1/mandats", e.body), 422, e.loc)
	}

	steps := []struct {
		body, status, date string
		moves              bool
	}{
		{`{"notes":"Conditions standard"}`, "proposé", "", true},
		{`{"status":"signé"}`, "signé", "2026-11-25", true}, // signed: today (day 2)
		{`{"status":"signé"}`, "signé", "2026-11-25", false},
		{`{"status":"actif","date_debut":"2026-12-01"}`, "actif", "2026-11-25", true},
		{`{"status":"signé","date_signature":"2026-11-30"}`, "signé", "2026-11-30", true},
		{`{"date_signature":null,"status":"proposé"}`, "proposé", "", true},
	}
	for i, s := range steps {
		a.clock.Set(t0.Add(time.Duration(i+1) * 24 * time.Hour))
		before := a.must(sales, "GET", "/api/v1/mandats/1", "", 200)
		r := a.must(sales, "PUT", "/api/v1/mandats/1", s.body, 200)
		if r.get("status").String() != s.status || r.get("date_signature").String() != s.date {
			t.Errorf("step %d %s: %s", i, s.body, r.body)
		}
		if moved := r.get("updated_at").String() != before.get("updated_at").String(); moved != s.moves {
			t.Errorf("step %d: updated_at moved %v, want %v", i, moved, s.moves)
		}
	}
	wantDetail(t, a.do(sales, "PUT", "/api/v1/mandats/1", `{"date_fin":"2026-11-01"}`), 422, `"body","date_fin"`)
	wantDetail(t, a.do(sales, "PUT", "/api/v1/mandats/1", `{"organisation_id":2}`), 422, `"body","organisation_id"`)
	wantDetail(t, a.do(sales, "PUT", "/api/v1/mandats/42", `{"status":"signé"}`), 404, "Mandat 42 introuvable")
	a.must(sales, "DELETE", "/api/v1/mandats/1", "", 204)
	wantDetail(t, a.do(sales, "DELETE", "/api/v1/mandats/1", ""), 404, "introuvable")
}

func TestInteractions(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	person := a.create("/api/v1/people", `{"first_name":"Jean","last_name":"Dupont"}`)
	r := a.must(sales, "POST", "/api/v1/interactions/organisation/"+org, `{"type":"call","subject":"Point trimestriel","person_id":`+person+`}`, 201)
	want := `{"id":1,"organisation_id":1,"person_id":1,"type":"call","subject":"Point trimestriel","notes":null,"date":"2026-11-23","created_by":12,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	wantDetail(t, a.do(sales, "POST", "/api/v1/interactions/organisation/99", `{"type":"call","subject":"X"}`), 404, "Organisation 99 introuvable")
	wantDetail(t, a.do(sales, "POST", "/api/v1/interactions/organisation/x", `{"type":"call","subject":"X"}`), 422, `"path","organisation_id"`)
	for _, e := range []struct{ body, loc string }{
		{`{"subject":"X"}`, `"body","type"`},
		{`{"type":"visio","subject":"X"}`, `"body","type"`},
		{`{"type":"call"}`, `"body","subject"`},
		{`{"type":"call","subject":"X","person_id":9}`, `"body","person_id"`},
		{`{"type":"call","subject":"X","organisation_id":1}`, `"body","organisation_id"`},
	} {
		wantDetail(t, a.do(sales, "POST", "/api/v1/interactions/organisation/"+org, e.body), 422, e.loc)
	}
	a.clock.Set(t0.Add(time.Hour))
	r = a.must(sales, "PUT", "/api/v1/interactions/1", `{"subject":"Point T4","notes":"RAS","date":"2026-11-22"}`, 200)
	if r.get("subject").String() != "Point T4" || r.get("notes").String() != "RAS" || r.get("date").String() != "2026-11-22" ||
		r.get("type").String() != "call" || r.get("updated_at").String() != "2026-11-23T11:00:00.123456" {
		t.Errorf("updated: %s", r.body)
	}
	same := a.must(sales, "PUT", "/api/v1/interactions/1", `{"subject":"Point T4"}`, 200)
	if same.body != r.body {
		t.Errorf("a no-op update changed the interaction: %s", same.body)
	}
	wantDetail(t, a.do(sales, "PUT", "/api/v1/interactions/1", `{"organisation_id":2}`), 422, `"body","organisation_id"`)
	wantDetail(t, a.do(sales, "PUT", "/api/v1/interactions/5", `{"subject":"X"}`), 404, "Interaction 5 introuvable")
	if l := a.must(viewer, "GET", "/api/v1/interactions?organisation_id="+org, "", 200); l.get("total").Int() != 1 {
		t.Errorf("list: %s", l.body)
	}
	a.must(sales, "DELETE", "/api/v1/interactions/1", "", 204)
}

func TestTimestamps(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))}
	h := crm.NewAt(c.Now)
	req := httptest.NewRequest("POST", "/api/v1/tasks", strings.NewReader(`{"title":"T","due_date":"2026-11-23"}`))
	req.Header.Set(crm.UserHeader, sales)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// Naive UTC, no fraction when it is zero, as Python writes it.
	if !strings.Contains(rec.Body.String(), `"created_at":"2026-11-23T09:00:00","updated_at":"2026-11-23T09:00:00"`) {
		t.Errorf("timestamps: %s", rec.Body)
	}
}

func TestConcurrentRequests(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := a.do(sales, "POST", "/api/v1/tasks", `{"title":"T","due_date":"2026-12-01"}`)
			if r.code != 201 {
				t.Errorf("create: %d %s", r.code, r.body)
				return
			}
			id := r.get("id").String()
			a.do(sales, "POST", "/api/v1/tasks/"+id+"/quick-action", `{"action":"mark_done"}`)
			a.do(sales, "POST", "/api/v1/mandats", `{"organisation_id":`+org+`,"status":"signé"}`)
			a.do(sales, "POST", "/api/v1/interactions/organisation/"+org, `{"type":"note","subject":"N`+fmt.Sprint(i)+`"}`)
			a.do(viewer, "GET", "/api/v1/tasks", "")
		})
	}
	wg.Wait()
	if r := a.must(sales, "GET", "/api/v1/tasks?status=done&limit=1000", "", 200); r.get("total").Int() != n || len(r.get("items").Array()) != n {
		t.Errorf("%d done tasks, want %d", r.get("total").Int(), n)
	}
	if r := a.must(sales, "GET", "/api/v1/mandats?limit=1000", "", 200); r.get("total").Int() != n {
		t.Errorf("%d mandats, want %d", r.get("total").Int(), n)
	}
}
