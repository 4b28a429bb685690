package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
)

// ids returns a JSON array of n consecutive ids from first.
func ids(first, n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprint(first+i))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// people returns a JSON array of n valid people.
func people(n int) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf(`{"first_name":"P%d","last_name":"Lot"}`, i))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// total returns the total of a list route.
func (a *api) total(path string) int64 {
	a.t.Helper()
	return a.must(admin, "GET", path, "", 200).get("total").Int()
}

func TestBatchCreate(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	r := a.must(sales, "POST", "/api/v1/people", ` 
	[{"first_name":"Jean","last_name":"Dupont","personal_email":"Jean@ACME.fr","organisation_id":`+org+`},
	 {"first_name":"Anne","last_name":"Martin"}]`, 201)
	want := `[{"id":1,"first_name":"Jean","last_name":"Dupont","personal_email":"jean@acme.fr","personal_phone":null,"role":null,"linkedin_url":null,"country_code":null,"language":"FR","organisation_id":1,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"},` +
		`{"id":2,"first_name":"Anne","last_name":"Martin","personal_email":null,"personal_phone":null,"role":null,"linkedin_url":null,"country_code":null,"language":"FR","organisation_id":null,"created_at":"2026-11-23T10:00:00.123456","updated_at":"2026-11-23T10:00:00.123456"}]`
	if r.body != want {
		t.Errorf("created:\n%s\nwant\n%s", r.body, want)
	}
	for i, p := range r.get("@this").Array() {
		if got := a.must(viewer, "GET", "/api/v1/people/"+p.Get("id").String(), "", 200).body; got != p.Raw {
			t.Errorf("person %d: GET %s, batch answer %s", i, got, p.Raw)
		}
	}
	// The single form is unchanged: an object answered with an object.
	if r := a.must(sales, "POST", "/api/v1/people", `{"first_name":"Luc","last_name":"Bernard"}`, 201); r.get("id").Int() != 3 || !strings.HasPrefix(r.body, "{") {
		t.Errorf("single create: %s", r.body)
	}

	// Tasks: defaults, created_by and completed_at per item, in order.
	a.clock.Set(t0.Add(time.Hour))
	r = a.must(admin, "POST", "/api/v1/tasks", `[{"title":"A","due_date":"2026-12-01"},{"title":"B","due_date":"2026-12-02","status":"done","person_id":1,"priority":"haute"}]`, 201)
	if r.get("#.id").Raw != "[1,2]" || r.get("#.title").Raw != `["A","B"]` || r.get("#.status").Raw != `["todo","done"]` ||
		r.get("#.priority").Raw != `["moyenne","haute"]` || r.get("#.created_by").Raw != "[1,1]" ||
		r.get("#.completed_at").Raw != `[null,"2026-11-23T11:00:00.123456"]` || r.get("#.created_at").Raw != `["2026-11-23T11:00:00.123456","2026-11-23T11:00:00.123456"]` {
		t.Errorf("tasks: %s", r.body)
	}

	// All or nothing: one bad item answers as the single create would, and
	// nothing is created (nor are ids used up).
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"missing field", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},{"first_name":"Z"}]`, 422, `"body",1,"last_name"`},
		{"unknown field", "/api/v1/people", `[{"first_name":"X","last_name":"Y","id":4}]`, 422, `"body",0,"id"`},
		{"unknown organisation", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},{"first_name":"X","last_name":"Y"},{"first_name":"X","last_name":"Y","organisation_id":99}]`, 422, `"body",2,"organisation_id"`},
		{"email taken", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},{"first_name":"X","last_name":"Y","personal_email":"JEAN@acme.fr"}]`, 409, "existe déjà"},
		{"email twice in the batch", "/api/v1/people", `[{"first_name":"X","last_name":"Y","personal_email":"x@y.fr"},{"first_name":"X","last_name":"Y","personal_email":"X@Y.fr"}]`, 409, "existe déjà"},
		{"not an object", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},"Z"]`, 422, `"body",1`},
		{"null item", "/api/v1/tasks", `[null]`, 422, `"body",0`},
		{"bad task", "/api/v1/tasks", `[{"title":"T","due_date":"2026-12-01"},{"title":"T","due_date":"2026-13-01"}]`, 422, `"body",1,"due_date"`},
		{"unknown person", "/api/v1/tasks", `[{"title":"T","due_date":"2026-12-01","person_id":99}]`, 422, `"body",0,"person_id"`},
		{"empty", "/api/v1/people", `[]`, 422, `"body"`},
		{"too many", "/api/v1/people", people(crm.MaxBatch + 1), 422, `"body"`},
		{"bad JSON", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},`, 422, `"body"`},
		{"trailing data", "/api/v1/tasks", `[] []`, 422, `"body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDetail(t, a.do(sales, "POST", tt.path, tt.body), tt.status, tt.want)
		})
	}
	wantDetail(t, a.do(viewer, "POST", "/api/v1/people", people(2)), 403, "Permissions")
	if n, m := a.total("/api/v1/people"), a.total("/api/v1/tasks"); n != 3 || m != 2 {
		t.Fatalf("%d people and %d tasks after failed batches, want 3 and 2", n, m)
	}
	if id := a.create("/api/v1/people", `{"first_name":"X","last_name":"Y","personal_email":"x@y.fr"}`); id != "4" {
		t.Errorf("next id %s, want 4 (a failed batch uses none)", id)
	}
	r = a.must(sales, "POST", "/api/v1/people", people(crm.MaxBatch), 201)
	if n := len(r.get("@this").Array()); n != crm.MaxBatch || r.get("0.id").Int() != 5 || r.get(fmt.Sprint(crm.MaxBatch-1, ".id")).Int() != 4+crm.MaxBatch {
		t.Errorf("a batch of %d: %d people, ids %s…", crm.MaxBatch, n, r.get("0.id").Raw)
	}
}

func TestBatchUpdate(t *testing.T) {
	a := newAPI(t)
	a.must(sales, "POST", "/api/v1/people", `[{"first_name":"Jean","last_name":"Dupont","personal_email":"jean@acme.fr"},{"first_name":"Anne","last_name":"Martin","role":"CIO"},{"first_name":"Luc","last_name":"Bernard"}]`, 201)
	get := func(id string) resp { return a.must(sales, "GET", "/api/v1/people/"+id, "", 200) }
	a.clock.Set(t0.Add(time.Hour))
	r := a.must(sales, "PATCH", "/api/v1/people", `{"keys":[3,2,1],"data":{"role":"CIO","language":"en"}}`, 200)
	if r.get("#.id").Raw != "[3,2,1]" || r.get("#.role").Raw != `["CIO","CIO","CIO"]` || r.get("#.language").Raw != `["EN","EN","EN"]` ||
		r.get("#.updated_at").Raw != `["2026-11-23T11:00:00.123456","2026-11-23T11:00:00.123456","2026-11-23T11:00:00.123456"]` {
		t.Errorf("updated: %s", r.body)
	}
	for _, p := range r.get("@this").Array() {
		if got := get(p.Get("id").String()).body; got != p.Raw {
			t.Errorf("stored %s, answered %s", got, p.Raw)
		}
	}
	// updated_at moves only for the records that changed.
	a.clock.Set(t0.Add(2 * time.Hour))
	r = a.must(sales, "PATCH", "/api/v1/people", `{"keys":[1,2],"data":{"role":"CIO","last_name":"Martin"}}`, 200)
	if r.get("#.last_name").Raw != `["Martin","Martin"]` || r.get("#.updated_at").Raw != `["2026-11-23T12:00:00.123456","2026-11-23T11:00:00.123456"]` {
		t.Errorf("partly no-op: %s", r.body)
	}
	if r := a.must(sales, "PATCH", "/api/v1/people", `{"keys":[3],"data":{}}`, 200); r.get("0.updated_at").String() != "2026-11-23T11:00:00.123456" {
		t.Errorf("empty data moved updated_at: %s", r.body)
	}

	before := []string{get("1").body, get("2").body, get("3").body}
	a.clock.Set(t0.Add(3 * time.Hour))
	tests := []struct {
		name, user, body string
		status           int
		want             string
	}{
		{"unknown id", sales, `{"keys":[1,99],"data":{"role":"CEO"}}`, 404, "Personne 99 introuvable"},
		{"invalid data", sales, `{"keys":[1,2],"data":{"first_name":""}}`, 422, `"body","data","first_name"`},
		{"read-only field", sales, `{"keys":[1],"data":{"id":7}}`, 422, `"body","data","id"`},
		{"unknown organisation", sales, `{"keys":[1,2],"data":{"organisation_id":99}}`, 422, `"body","data","organisation_id"`},
		{"email taken", sales, `{"keys":[2,3],"data":{"personal_email":"JEAN@acme.fr"}}`, 409, "existe déjà"},
		{"one email for two", sales, `{"keys":[2,3],"data":{"personal_email":"new@acme.fr"}}`, 409, "existe déjà"},
		{"no keys", sales, `{"data":{"role":"CEO"}}`, 422, `"body","keys"`},
		{"null keys", sales, `{"keys":null,"data":{"role":"CEO"}}`, 422, `"body","keys"`},
		{"empty keys", sales, `{"keys":[],"data":{"role":"CEO"}}`, 422, `"body","keys"`},
		{"keys not a list", sales, `{"keys":1,"data":{"role":"CEO"}}`, 422, `"body","keys"`},
		{"duplicate key", sales, `{"keys":[1,2,1],"data":{"role":"CEO"}}`, 422, `"body","keys",2`},
		{"key not an integer", sales, `{"keys":[1,"2"],"data":{"role":"CEO"}}`, 422, `"body","keys",1`},
		{"key not positive", sales, `{"keys":[0],"data":{"role":"CEO"}}`, 422, `"body","keys",0`},
		{"too many keys", sales, `{"keys":` + ids(1, crm.MaxBatch+1) + `,"data":{"role":"CEO"}}`, 422, `"body","keys"`},
		{"no data", sales, `{"keys":[1]}`, 422, `"body","data"`},
		{"data not an object", sales, `{"keys":[1],"data":[]}`, 422, `"body","data"`},
		{"unknown key", sales, `{"keys":[1],"data":{},"query":{}}`, 422, `"body","query"`},
		{"an array", sales, `[1,2]`, 422, `"body"`},
		{"bad JSON", sales, `{"keys":[1`, 422, `"body"`},
		{"viewer", viewer, `{"keys":[1],"data":{"role":"CEO"}}`, 403, "Permissions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDetail(t, a.do(tt.user, "PATCH", "/api/v1/people", tt.body), tt.status, tt.want)
		})
	}
	if after := []string{get("1").body, get("2").body, get("3").body}; fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("failed batches changed people:\n%s\nwas\n%s", after, before)
	}
	// The admin may too; 100 keys are fine (the unknown ones answer 404).
	wantDetail(t, a.do(admin, "PATCH", "/api/v1/people", `{"keys":`+ids(1, crm.MaxBatch)+`,"data":{"role":"CEO"}}`), 404, "Personne 4 introuvable")
	a.must(admin, "PATCH", "/api/v1/people", `{"keys":[2],"data":{"personal_email":"anne@beta.fr"}}`, 200)
}

func TestBatchUpdateTasks(t *testing.T) {
	a := newAPI(t)
	a.must(sales, "POST", "/api/v1/tasks", `[{"title":"A","due_date":"2026-12-01"},{"title":"B","due_date":"2026-12-01","status":"done"},{"title":"C","due_date":"2026-12-01","status":"doing"}]`, 201)
	a.must(sales, "POST", "/api/v1/tasks/3/quick-action", `{"action":"snooze_1d"}`, 200)
	// done completes the tasks that were not done, once; the done one keeps
	// its completed_at and updated_at.
	a.clock.Set(t0.Add(time.Hour))
	r := a.must(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,2,3],"data":{"status":"done"}}`, 200)
	if r.get("#.status").Raw != `["done","done","done"]` ||
		r.get("#.completed_at").Raw != `["2026-11-23T11:00:00.123456","2026-11-23T10:00:00.123456","2026-11-23T11:00:00.123456"]` ||
		r.get("#.updated_at").Raw != `["2026-11-23T11:00:00.123456","2026-11-23T10:00:00.123456","2026-11-23T11:00:00.123456"]` ||
		r.get("#.snoozed_until").Raw != "[null,null,null]" {
		t.Errorf("done: %s", r.body)
	}
	// Done again: nothing changes.
	a.clock.Set(t0.Add(2 * time.Hour))
	if again := a.must(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,2,3],"data":{"status":"done"}}`, 200); again.body != r.body {
		t.Errorf("done again changed the tasks: %s", again.body)
	}
	// Another status reopens them.
	r = a.must(sales, "PATCH", "/api/v1/tasks", `{"keys":[2,1],"data":{"status":"todo","priority":"haute"}}`, 200)
	if r.get("#.id").Raw != "[2,1]" || r.get("#.completed_at").Raw != "[null,null]" || r.get("#.priority").Raw != `["haute","haute"]` ||
		r.get("#.updated_at").Raw != `["2026-11-23T12:00:00.123456","2026-11-23T12:00:00.123456"]` {
		t.Errorf("reopened: %s", r.body)
	}
	before := a.must(sales, "GET", "/api/v1/tasks", "", 200).body
	wantDetail(t, a.do(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,9],"data":{"status":"done"}}`), 404, "Tâche 9 introuvable")
	wantDetail(t, a.do(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,2],"data":{"status":"finished"}}`), 422, `"body","data","status"`)
	wantDetail(t, a.do(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,2],"data":{"status":"done","person_id":5}}`), 422, `"body","data","person_id"`)
	wantDetail(t, a.do(sales, "PATCH", "/api/v1/tasks", `{"keys":[1,2],"data":{"completed_at":null}}`), 422, `"body","data","completed_at"`)
	wantDetail(t, a.do(viewer, "PATCH", "/api/v1/tasks", `{"keys":[1],"data":{"status":"done"}}`), 403, "Permissions")
	if after := a.must(sales, "GET", "/api/v1/tasks", "", 200).body; after != before {
		t.Errorf("failed batches changed tasks:\n%s\nwas\n%s", after, before)
	}
	// There is no batch delete of tasks.
	if r := a.do(admin, "DELETE", "/api/v1/tasks", `[1]`); r.code != 405 {
		t.Errorf("DELETE /api/v1/tasks: %d %s", r.code, r.body)
	}
}

func TestBatchDelete(t *testing.T) {
	a := newAPI(t)
	org := a.create("/api/v1/organisations", `{"name":"ACME Capital","category":"Institution"}`)
	a.must(sales, "POST", "/api/v1/people", people(4), 201)
	task := a.create("/api/v1/tasks", `{"title":"Rappeler","due_date":"2026-12-01","person_id":3}`)
	kept := a.create("/api/v1/tasks", `{"title":"Écrire","due_date":"2026-12-01","person_id":2}`)
	inter := a.create("/api/v1/interactions/organisation/"+org, `{"type":"call","subject":"Intro","person_id":1}`)
	a.clock.Set(t0.Add(time.Hour))

	wantDetail(t, a.do(sales, "DELETE", "/api/v1/people", `[1,3]`), 403, "Permissions")
	wantDetail(t, a.do(viewer, "DELETE", "/api/v1/people", `[1,3]`), 403, "Permissions")
	for _, e := range []struct {
		body   string
		status int
		want   string
	}{
		{`[1,99,3]`, 404, "Personne 99 introuvable"},
		{`[1,3,1]`, 422, `"body",2`},
		{`[1,"3"]`, 422, `"body",1`},
		{`[1.5]`, 422, `"body",0`},
		{`[]`, 422, `"body"`},
		{ids(1, crm.MaxBatch+1), 422, `"body"`},
		{`{"keys":[1]}`, 422, `"body"`},
		{``, 422, `"body"`},
	} {
		wantDetail(t, a.do(admin, "DELETE", "/api/v1/people", e.body), e.status, e.want)
	}
	if n := a.total("/api/v1/people"); n != 4 {
		t.Fatalf("%d people after refused deletions, want 4", n)
	}
	if r := a.must(admin, "DELETE", "/api/v1/people", `[3, 1]`, 204); r.body != "" {
		t.Errorf("204 with a body: %q", r.body)
	}
	if r := a.must(admin, "GET", "/api/v1/people", "", 200); r.get("items.#.id").Raw != "[2,4]" {
		t.Errorf("people left: %s", r.body)
	}
	// As the single DELETE: tasks and interactions lose the person, and
	// keep their updated_at.
	if tk := a.must(sales, "GET", "/api/v1/tasks/"+task, "", 200); tk.get("person_id").Raw != "null" || tk.get("updated_at").String() != "2026-11-23T10:00:00.123456" {
		t.Errorf("task of a deleted person: %s", tk.body)
	}
	if tk := a.must(sales, "GET", "/api/v1/tasks/"+kept, "", 200); tk.get("person_id").Int() != 2 {
		t.Errorf("task of a kept person: %s", tk.body)
	}
	if i := a.must(sales, "GET", "/api/v1/interactions/"+inter, "", 200); i.get("person_id").Raw != "null" {
		t.Errorf("interaction of a deleted person: %s", i.body)
	}
	wantDetail(t, a.do(admin, "DELETE", "/api/v1/people", `[2,3]`), 404, "Personne 3 introuvable")
	wantDetail(t, a.do(admin, "DELETE", "/api/v1/people/1", ``), 404, "Personne 1 introuvable")
	a.must(admin, "DELETE", "/api/v1/people", `[2,4]`, 204)
	if n := a.total("/api/v1/people"); n != 0 {
		t.Errorf("%d people left", n)
	}
}
