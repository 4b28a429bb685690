package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestCRMRulesEndToEnd puts real Caddy with examples/crm/rules.yaml in
// front of the real CRM and checks each of the 13 events the rules promise
// (data and user_id), and that failed requests, refused ones, no-op
// updates, repeated transitions and reads emit nothing.
func TestCRMRulesEndToEnd(t *testing.T) {
	app := httptest.NewServer(crm.New())
	t.Cleanup(app.Close)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global("")+testbed.Site(port, "examples/crm/rules.yaml", app.Listener.Addr()))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	call := func(user, method, path, body string, want int) gjson.Result {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set(crm.UserHeader, user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return gjson.ParseBytes(b)
	}

	// Organisations.
	org := call(sales, "POST", "/api/v1/organisations", `{"name":"ACME Capital","category":"Institution","country_code":"FR"}`, 201).Get("id").String()
	call(sales, "POST", "/api/v1/organisations", `{"name":"acme capital","category":"SDG"}`, 409)
	call(viewer, "POST", "/api/v1/organisations", `{"name":"Beta","category":"SDG"}`, 403)
	call("", "POST", "/api/v1/organisations", `{"name":"Beta","category":"SDG"}`, 401)
	call(sales, "POST", "/api/v1/organisations", `{"name":"Beta","category":"Banque"}`, 422)
	call(viewer, "GET", "/api/v1/organisations/"+org, "", 200)
	call(sales, "PUT", "/api/v1/organisations/"+org, `{"country_code":"CH","aum":2e9}`, 200)
	call(sales, "PUT", "/api/v1/organisations/"+org, `{"country_code":"CH"}`, 200) // no change
	call(sales, "PUT", "/api/v1/organisations/"+org, `{}`, 200)                    // no change
	call(sales, "PUT", "/api/v1/organisations/"+org, `{"category":"Banque"}`, 422)
	call(sales, "PUT", "/api/v1/organisations/999", `{"name":"X"}`, 404)
	gone := call(sales, "POST", "/api/v1/organisations", `{"name":"Gamma Gestion","category":"CGPI"}`, 201).Get("id").String()
	call(sales, "DELETE", "/api/v1/organisations/"+gone, "", 403)
	call(admin, "DELETE", "/api/v1/organisations/"+gone, "", 204)
	call(admin, "DELETE", "/api/v1/organisations/"+gone, "", 404)

	// People.
	person := call(sales, "POST", "/api/v1/people", `{"first_name":"Jean","last_name":"Dupont","personal_email":"jean@acme.fr","organisation_id":`+org+`}`, 201).Get("id").String()
	call(sales, "POST", "/api/v1/people", `{"first_name":"X","last_name":"Y","personal_email":"JEAN@acme.fr"}`, 409)
	call(sales, "PUT", "/api/v1/people/"+person, `{"role":"CIO"}`, 200)
	call(sales, "PUT", "/api/v1/people/"+person, `{"role":"CIO"}`, 200) // no change
	other := call(sales, "POST", "/api/v1/people", `{"first_name":"Anne","last_name":"Martin"}`, 201).Get("id").String()
	call(sales, "DELETE", "/api/v1/people/"+other, "", 403)
	call(admin, "DELETE", "/api/v1/people/"+other, "", 204)

	// Tasks: done by the quick action, again (nothing), reopened, done by PUT.
	task := call(sales, "POST", "/api/v1/tasks", `{"title":"Rappeler Jean","due_date":"2026-12-01","priority":"haute","person_id":`+person+`}`, 201).Get("id").String()
	call(sales, "POST", "/api/v1/tasks/"+task+"/quick-action", `{"action":"snooze_1d"}`, 200)
	call(sales, "POST", "/api/v1/tasks/"+task+"/quick-action", `{"action":"explode"}`, 422)
	call(sales, "POST", "/api/v1/tasks/"+task+"/quick-action", `{"action":"mark_done"}`, 200)
	call(sales, "POST", "/api/v1/tasks/"+task+"/quick-action", `{"action":"mark_done"}`, 200) // already done
	call(sales, "PUT", "/api/v1/tasks/"+task, `{"status":"done"}`, 200)                       // already done
	call(sales, "POST", "/api/v1/tasks/"+task+"/quick-action", `{"action":"snooze_1w"}`, 409)
	call(sales, "PUT", "/api/v1/tasks/"+task, `{"status":"todo"}`, 200)
	call(admin, "PUT", "/api/v1/tasks/"+task, `{"status":"done","title":"Rappeler Jean (fait)"}`, 200)
	call(sales, "POST", "/api/v1/tasks/999/quick-action", `{"action":"mark_done"}`, 404)

	// Mandats: one created signé, one signed by an edit.
	call(sales, "POST", "/api/v1/mandats", `{"organisation_id":`+org+`,"status":"signé","date_signature":"2026-11-01"}`, 201)
	mandat := call(sales, "POST", "/api/v1/mandats", `{"organisation_id":`+org+`,"numero_mandat":"M-2026-002"}`, 201).Get("id").String()
	call(sales, "POST", "/api/v1/mandats", `{"organisation_id":999}`, 422)
	call(sales, "PUT", "/api/v1/mandats/"+mandat, `{"status":"signé"}`, 200)
	call(sales, "PUT", "/api/v1/mandats/"+mandat, `{"status":"signé"}`, 200) // no change
	call(sales, "PUT", "/api/v1/mandats/"+mandat, `{"status":"actif"}`, 200)
	call(sales, "PUT", "/api/v1/mandats/"+mandat, `{"status":"signe"}`, 422)

	// Interactions.
	inter := call(sales, "POST", "/api/v1/interactions/organisation/"+org, `{"type":"call","subject":"Point trimestriel","person_id":`+person+`}`, 201).Get("id").String()
	call(sales, "POST", "/api/v1/interactions/organisation/999", `{"type":"call","subject":"X"}`, 404)
	call(sales, "PUT", "/api/v1/interactions/"+inter, `{"subject":"Point T4"}`, 200)
	call(sales, "PUT", "/api/v1/interactions/"+inter, `{"subject":"Point T4"}`, 200) // no change
	call(viewer, "GET", "/api/v1/interactions?organisation_id="+org, "", 200)

	// Records the proxy has never seen, created straight on the CRM: the
	// rules prefetch them (with the client's X-User-Id), so no-op updates
	// and repeated transitions still emit nothing and deletions carry the
	// record's id and name.
	direct := func(path, body string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", app.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(crm.UserHeader, sales)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 {
			t.Fatalf("direct POST %s: %d %s", path, resp.StatusCode, b)
		}
		return gjson.GetBytes(b, "id").String()
	}
	dOrg := direct("/api/v1/organisations", `{"name":"Delta Partners","category":"Wholesale","country_code":"BE"}`)
	call(sales, "PUT", "/api/v1/organisations/"+dOrg, `{"country_code":"be"}`, 200) // no change
	call(sales, "PUT", "/api/v1/organisations/"+dOrg, `{"name":"Delta Partners SA"}`, 200)
	dGone := direct("/api/v1/organisations", `{"name":"Epsilon AM","category":"SDG"}`)
	dPerson := direct("/api/v1/people", `{"first_name":"Luc","last_name":"Bernard","organisation_id":`+dOrg+`}`)
	call(sales, "PUT", "/api/v1/people/"+dPerson, `{"first_name":"Luc"}`, 200) // no change
	// Records that lose a reference when another is deleted: the CRM
	// clears it without moving updated_at, and a later no-op update of
	// them emits nothing.
	linked := call(sales, "POST", "/api/v1/people", `{"first_name":"Zoé","last_name":"Petit","organisation_id":`+dGone+`}`, 201).Get("id").String()
	linkedInter := call(sales, "POST", "/api/v1/interactions/organisation/"+dOrg, `{"type":"meeting","subject":"Revue","person_id":`+dPerson+`}`, 201).Get("id").String()
	call(admin, "DELETE", "/api/v1/organisations/"+dGone, "", 204)
	call(admin, "DELETE", "/api/v1/people/"+dPerson, "", 204)
	call(sales, "PUT", "/api/v1/people/"+linked, `{}`, 200)                             // no change
	call(sales, "PUT", "/api/v1/interactions/"+linkedInter, `{"subject":"Revue"}`, 200) // no change
	dDone := direct("/api/v1/tasks", `{"title":"Déjà fait","due_date":"2026-11-30","status":"done"}`)
	call(sales, "POST", "/api/v1/tasks/"+dDone+"/quick-action", `{"action":"mark_done"}`, 200) // already done
	call(sales, "PUT", "/api/v1/tasks/"+dDone, `{"status":"done"}`, 200)                       // already done
	dTask := direct("/api/v1/tasks", `{"title":"Envoyer le DICI","due_date":"2026-11-30"}`)
	call(sales, "POST", "/api/v1/tasks/"+dTask+"/quick-action", `{"action":"mark_done"}`, 200)
	dSigned := direct("/api/v1/mandats", `{"organisation_id":`+dOrg+`,"status":"signé","date_signature":"2026-10-01"}`)
	call(sales, "PUT", "/api/v1/mandats/"+dSigned, `{"status":"signé"}`, 200) // no change
	call(sales, "PUT", "/api/v1/mandats/"+dSigned, `{"status":"actif"}`, 200)
	dMandat := direct("/api/v1/mandats", `{"organisation_id":`+dOrg+`}`)
	call(sales, "PUT", "/api/v1/mandats/"+dMandat, `{"status":"signé","date_signature":"2026-11-02"}`, 200)
	dInter := direct("/api/v1/interactions/organisation/"+dOrg, `{"type":"email","subject":"Relance"}`)
	call(sales, "PUT", "/api/v1/interactions/"+dInter, `{"subject":"Relance","type":"email"}`, 200) // no change
	call(sales, "PUT", "/api/v1/interactions/"+dInter, `{"subject":"Relance 2"}`, 200)
	c.Stop()

	s, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(c.Dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type ev struct {
		data gjson.Result
		user string
	}
	got := map[string][]ev{}
	err = s.EventsSince(context.Background(), time.Time{}, func(e webhook.Event) error {
		got[e.Name] = append(got[e.Name], ev{gjson.ParseBytes(e.Data), string(e.UserID)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{
		"organisation.created": 2, "organisation.updated": 2, "organisation.deleted": 2,
		"person.created": 3, "person.updated": 1, "person.deleted": 2,
		"task.created": 1, "task.completed": 3,
		"mandat.created": 2, "mandat.updated": 4, "mandat.signed": 3,
		"interaction.created": 2, "interaction.updated": 2,
	} {
		if len(got[name]) != n {
			t.Errorf("%s fired %d times, want %d", name, len(got[name]), n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// find returns an event of that name (not returned before) for which
	// ok holds. Events are not compared by position: their ids, hence the
	// store's order, sort by time only to the millisecond.
	used := map[string]map[int]bool{}
	find := func(name string, ok func(ev) bool) (ev, bool) {
		if used[name] == nil {
			used[name] = map[int]bool{}
		}
		for i, e := range got[name] {
			if !used[name][i] && ok(e) {
				used[name][i] = true
				return e, true
			}
		}
		return ev{}, false
	}
	check := func(name string, user, data string) {
		t.Helper()
		if _, ok := find(name, func(e ev) bool { return e.data.Raw == data && e.user == `"`+user+`"` }); !ok {
			var seen []string
			for _, e := range got[name] {
				seen = append(seen, "user_id "+e.user+" data "+e.data.Raw)
			}
			t.Errorf("no %s with user_id %q data %s among\n%s", name, user, data, strings.Join(seen, "\n"))
		}
	}
	check("organisation.created", sales, `{"organisation_id":1,"name":"ACME Capital","category":"Institution","country_code":"FR"}`)
	check("organisation.updated", sales, `{"organisation_id":1,"name":"ACME Capital","category":"Institution","country_code":"CH"}`)
	check("organisation.deleted", admin, `{"organisation_id":2,"name":"Gamma Gestion"}`)
	check("person.created", sales, `{"person_id":1,"first_name":"Jean","last_name":"Dupont","email":"jean@acme.fr"}`)
	check("person.updated", sales, `{"person_id":1,"first_name":"Jean","last_name":"Dupont","email":"jean@acme.fr"}`)
	check("person.deleted", admin, `{"person_id":2,"first_name":"Anne","last_name":"Martin"}`)
	check("task.created", sales, `{"task_id":1,"title":"Rappeler Jean","status":"todo","due_date":"2026-12-01","priority":"haute"}`)
	completed := func(taskID, title, user string) {
		t.Helper()
		_, ok := find("task.completed", func(e ev) bool {
			return e.data.Get("task_id").Raw == taskID && e.data.Get("title").String() == title && e.user == `"`+user+`"` &&
				e.data.Get("completed_at").Type == gjson.String && len(e.data.Get("@keys").Array()) == 3
		})
		if !ok {
			t.Errorf("no task.completed of task %s %q by user %s among %v", taskID, title, user, got["task.completed"])
		}
	}
	completed("1", "Rappeler Jean", sales)        // the quick action
	completed("1", "Rappeler Jean (fait)", admin) // the PUT
	check("mandat.created", sales, `{"mandat_id":1,"organisation_id":1,"status":"signé","date_signature":"2026-11-01"}`)
	check("mandat.created", sales, `{"mandat_id":2,"organisation_id":1,"status":"proposé","date_signature":null}`)
	check("mandat.signed", sales, `{"mandat_id":1,"organisation_id":1,"date_signature":"2026-11-01"}`)
	today := time.Now().UTC().Format("2006-01-02")
	check("mandat.signed", sales, `{"mandat_id":2,"organisation_id":1,"date_signature":"`+today+`"}`)
	check("mandat.updated", sales, `{"mandat_id":2,"organisation_id":1,"status":"signé","date_signature":"`+today+`"}`)
	check("mandat.updated", sales, `{"mandat_id":2,"organisation_id":1,"status":"actif","date_signature":"`+today+`"}`)
	check("interaction.created", sales, `{"interaction_id":1,"organisation_id":1,"type":"call","subject":"Point trimestriel"}`)
	check("interaction.updated", sales, `{"interaction_id":1,"organisation_id":1,"type":"call","subject":"Point T4"}`)

	// The records created straight on the CRM.
	check("organisation.updated", sales, `{"organisation_id":`+dOrg+`,"name":"Delta Partners SA","category":"Wholesale","country_code":"BE"}`)
	check("organisation.deleted", admin, `{"organisation_id":`+dGone+`,"name":"Epsilon AM"}`)
	check("person.deleted", admin, `{"person_id":`+dPerson+`,"first_name":"Luc","last_name":"Bernard"}`)
	completed(dTask, "Envoyer le DICI", sales)
	check("mandat.updated", sales, `{"mandat_id":`+dSigned+`,"organisation_id":`+dOrg+`,"status":"actif","date_signature":"2026-10-01"}`)
	check("mandat.updated", sales, `{"mandat_id":`+dMandat+`,"organisation_id":`+dOrg+`,"status":"signé","date_signature":"2026-11-02"}`)
	check("mandat.signed", sales, `{"mandat_id":`+dMandat+`,"organisation_id":`+dOrg+`,"date_signature":"2026-11-02"}`)
	check("interaction.updated", sales, `{"interaction_id":`+dInter+`,"organisation_id":`+dOrg+`,"type":"email","subject":"Relance 2"}`)
}
