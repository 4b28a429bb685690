package main

import (
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
	"github.com/caddy-webhooks/caddy-webhooks/queue"
)

// TestCRMRulesEndToEnd puts real Caddy with examples/crm/rules.yaml in
// front of the real CRM and checks each of the 13 events the rules promise
// (data and user_id), and that failed requests, refused ones, no-op
// updates, repeated transitions and reads emit nothing.
func TestCRMRulesEndToEnd(t *testing.T) {
	app := httptest.NewServer(crm.New())
	t.Cleanup(app.Close)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", fmt.Sprintf(`{
	admin {ADMIN}
	auto_https off
	persist_config off
	webhooks {
		storage {DIR}/webhooks
	}
}
http://127.0.0.1:%d {
	webhooks {
		rules %s
	}
	reverse_proxy %s
}
`, port, filepath.Join(testbed.Root(), "examples/crm/rules.yaml"), app.Listener.Addr()))
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
	c.Stop()

	s, err := queue.Open(queue.Options{Dir: filepath.Join(c.Dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type ev struct {
		data gjson.Result
		user string
	}
	got := map[string][]ev{}
	err = s.EventsSince(time.Time{}, func(e queue.Event) error {
		got[e.Name] = append(got[e.Name], ev{gjson.ParseBytes(e.Data), string(e.UserID)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{
		"organisation.created": 2, "organisation.updated": 1, "organisation.deleted": 1,
		"person.created": 2, "person.updated": 1, "person.deleted": 1,
		"task.created": 1, "task.completed": 2,
		"mandat.created": 2, "mandat.updated": 2, "mandat.signed": 2,
		"interaction.created": 1, "interaction.updated": 1,
	} {
		if len(got[name]) != n {
			t.Errorf("%s fired %d times, want %d", name, len(got[name]), n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	check := func(name string, i int, user, data string) {
		t.Helper()
		e := got[name][i]
		if e.data.Raw != data || e.user != `"`+user+`"` {
			t.Errorf("%s #%d: user_id %s data %s\nwant user_id %q data %s", name, i, e.user, e.data.Raw, user, data)
		}
	}
	check("organisation.created", 0, sales, `{"organisation_id":1,"name":"ACME Capital","category":"Institution","country_code":"FR"}`)
	check("organisation.updated", 0, sales, `{"organisation_id":1,"name":"ACME Capital","category":"Institution","country_code":"CH"}`)
	check("organisation.deleted", 0, admin, `{"organisation_id":2,"name":"Gamma Gestion"}`)
	check("person.created", 0, sales, `{"person_id":1,"first_name":"Jean","last_name":"Dupont","email":"jean@acme.fr"}`)
	check("person.updated", 0, sales, `{"person_id":1,"first_name":"Jean","last_name":"Dupont","email":"jean@acme.fr"}`)
	check("person.deleted", 0, admin, `{"person_id":2,"first_name":"Anne","last_name":"Martin"}`)
	check("task.created", 0, sales, `{"task_id":1,"title":"Rappeler Jean","status":"todo","due_date":"2026-12-01","priority":"haute"}`)
	for i, title := range []string{"Rappeler Jean", "Rappeler Jean (fait)"} {
		e := got["task.completed"][i]
		if e.data.Get("task_id").Raw != "1" || e.data.Get("title").String() != title || !e.data.Get("completed_at").Exists() ||
			e.data.Get("completed_at").Type != gjson.String || len(e.data.Get("@keys").Array()) != 3 {
			t.Errorf("task.completed #%d: %s", i, e.data.Raw)
		}
	}
	if got["task.completed"][1].user != `"1"` {
		t.Errorf("task.completed by PUT: user_id %s, want \"1\"", got["task.completed"][1].user)
	}
	check("mandat.created", 0, sales, `{"mandat_id":1,"organisation_id":1,"status":"signé","date_signature":"2026-11-01"}`)
	check("mandat.created", 1, sales, `{"mandat_id":2,"organisation_id":1,"status":"proposé","date_signature":null}`)
	check("mandat.signed", 0, sales, `{"mandat_id":1,"organisation_id":1,"date_signature":"2026-11-01"}`)
	today := time.Now().UTC().Format("2006-01-02")
	check("mandat.signed", 1, sales, `{"mandat_id":2,"organisation_id":1,"date_signature":"`+today+`"}`)
	check("mandat.updated", 0, sales, `{"mandat_id":2,"organisation_id":1,"status":"signé","date_signature":"`+today+`"}`)
	check("mandat.updated", 1, sales, `{"mandat_id":2,"organisation_id":1,"status":"actif","date_signature":"`+today+`"}`)
	check("interaction.created", 0, sales, `{"interaction_id":1,"organisation_id":1,"type":"call","subject":"Point trimestriel"}`)
	check("interaction.updated", 0, sales, `{"interaction_id":1,"organisation_id":1,"type":"call","subject":"Point T4"}`)
}
