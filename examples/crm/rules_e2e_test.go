package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// crmProxy is the real CRM with a real Caddy and examples/crm/rules.yaml
// in front of it.
type crmProxy struct {
	t    *testing.T
	app  *httptest.Server
	c    *testbed.Caddy
	base string // Caddy
	hc   *http.Client
}

func startCRMProxy(t *testing.T) *crmProxy {
	t.Helper()
	app := httptest.NewServer(crm.New())
	t.Cleanup(app.Close)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global("")+testbed.Site(port, "examples/crm/rules.yaml", app.Listener.Addr()))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(hc.CloseIdleConnections)
	return &crmProxy{t: t, app: app, c: c, base: fmt.Sprintf("http://127.0.0.1:%d", port), hc: hc}
}

// send sends a JSON request to base (Caddy or the CRM) as user; it is safe
// for concurrent use.
func (p *crmProxy) send(base, user, method, path, body string) (int, gjson.Result, error) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return 0, gjson.Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set(crm.UserHeader, user)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, gjson.Result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, gjson.ParseBytes(b), err
}

func (p *crmProxy) must(base, user, method, path, body string, want int) gjson.Result {
	p.t.Helper()
	code, r, err := p.send(base, user, method, path, body)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		p.t.Fatalf("%s %s%s %s: %d %s, want %d", method, base, path, body, code, r.Raw, want)
	}
	return r
}

// call sends a request through Caddy.
func (p *crmProxy) call(user, method, path, body string, want int) gjson.Result {
	p.t.Helper()
	return p.must(p.base, user, method, path, body, want)
}

// direct sends a request straight to the CRM: the proxy never sees it.
func (p *crmProxy) direct(user, method, path, body string, want int) gjson.Result {
	p.t.Helper()
	return p.must(p.app.URL, user, method, path, body, want)
}

// storedEvent is an event as the store keeps it.
type storedEvent struct {
	data gjson.Result
	user string // user_id, JSON
}

// events stops Caddy and returns the events it stored, by name.
func (p *crmProxy) events() map[string][]storedEvent {
	p.t.Helper()
	p.c.Stop()
	s, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(p.c.Dir, "webhooks")})
	if err != nil {
		p.t.Fatal(err)
	}
	defer s.Close()
	got := map[string][]storedEvent{}
	err = s.EventsSince(context.Background(), time.Time{}, func(e webhook.Event) error {
		got[e.Name] = append(got[e.Name], storedEvent{gjson.ParseBytes(e.Data), string(e.UserID)})
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return got
}

// canonical returns JSON text with its object keys sorted, so that two
// documents compare as text.
func canonical(t *testing.T, raw string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// sameEvents checks that the events got are exactly want (canonical data
// and user_id, "user_id data"), as multisets.
func sameEvents(t *testing.T, name string, got []storedEvent, want []string) {
	t.Helper()
	var g []string
	for _, e := range got {
		g = append(g, e.user+" "+canonical(t, e.data.Raw))
	}
	var w []string
	for _, s := range want {
		user, data, _ := strings.Cut(s, " ")
		w = append(w, user+" "+canonical(t, data))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %d events\n\t%s\nwant %d\n\t%s", name, len(g), strings.Join(g, "\n\t"), len(w), strings.Join(w, "\n\t"))
	}
}

// TestCRMBatchRulesEndToEnd: batch creates, updates and deletes of people
// and tasks through a real Caddy give one event per record, with the right
// old values, also for records created straight on the CRM (the rules
// prefetch them one by one); no-op items, refused and failed batches emit
// nothing.
func TestCRMBatchRulesEndToEnd(t *testing.T) {
	p := startCRMProxy(t)
	id := func(r gjson.Result, i int) string { t.Helper(); return r.Get(fmt.Sprint(i, ".id")).String() }

	// Straight on the CRM: the proxy never sees these.
	d := p.direct(sales, "POST", "/api/v1/people", `[{"first_name":"Luc","last_name":"Bernard","personal_email":"luc@delta.fr"},{"first_name":"Eve","last_name":"Martin"},{"first_name":"Inès","last_name":"Roux"}]`, 201)
	dLuc, dEve, dInes := id(d, 0), id(d, 1), id(d, 2)
	d = p.direct(sales, "POST", "/api/v1/tasks", `[{"title":"Direct à faire","due_date":"2026-12-01"},{"title":"Direct fait","due_date":"2026-12-01","status":"done"}]`, 201)
	dTodo, dDone := id(d, 0), id(d, 1)

	// Batch creates: one event per record; the single form still one.
	ps := p.call(sales, "POST", "/api/v1/people", `[{"first_name":"Jean","last_name":"Dupont","personal_email":"jean@acme.fr"},{"first_name":"Anne","last_name":"Martin"}]`, 201)
	jean, anne := id(ps, 0), id(ps, 1)
	paul := p.call(sales, "POST", "/api/v1/people", `{"first_name":"Paul","last_name":"Petit"}`, 201).Get("id").String()
	ts := p.call(admin, "POST", "/api/v1/tasks", `[{"title":"A","due_date":"2026-12-01"},{"title":"B","due_date":"2026-12-02","status":"done"},{"title":"C","due_date":"2026-12-03","priority":"haute"}]`, 201)
	tA, tB, tC := id(ts, 0), id(ts, 1), id(ts, 2)
	p.call(sales, "POST", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},{"first_name":"Z"}]`, 422)
	p.call(sales, "POST", "/api/v1/people", `[{"first_name":"X","last_name":"Y"},{"first_name":"X","last_name":"Y","personal_email":"JEAN@acme.fr"}]`, 409)
	p.call(viewer, "POST", "/api/v1/tasks", `[{"title":"X","due_date":"2026-12-01"}]`, 403)
	p.call(sales, "POST", "/api/v1/tasks", `[]`, 422)

	// Batch update of people: Jean and Luc change; Anne (seen) and Eve
	// (never seen: prefetched) are already Martin, and emit nothing.
	r := p.call(sales, "PATCH", "/api/v1/people", `{"keys":[`+dEve+`,`+jean+`,`+anne+`,`+dLuc+`],"data":{"last_name":"Martin"}}`, 200)
	if r.Get("#.id").Raw != "["+dEve+","+jean+","+anne+","+dLuc+"]" {
		t.Fatalf("PATCH answer: %s", r.Raw)
	}
	p.call(sales, "PATCH", "/api/v1/people", `{"keys":[`+jean+`,`+dLuc+`],"data":{"last_name":"Martin"}}`, 200) // no change
	p.call(sales, "PUT", "/api/v1/people/"+jean, `{"last_name":"Martin"}`, 200)                                 // no change: the batch's snapshot
	p.call(sales, "PUT", "/api/v1/people/"+dLuc, `{"first_name":"Lucas"}`, 200)
	p.call(sales, "PATCH", "/api/v1/people", `{"keys":[`+jean+`,999],"data":{"role":"CEO"}}`, 404)
	p.call(sales, "PATCH", "/api/v1/people", `{"keys":[`+jean+`],"data":{"first_name":""}}`, 422)
	p.call(viewer, "PATCH", "/api/v1/people", `{"keys":[`+jean+`],"data":{"role":"CEO"}}`, 403)
	p.call(admin, "PATCH", "/api/v1/people", `{"keys":[`+jean+`],"data":{"role":"CEO"}}`, 200)
	// An id twice: the CRM refuses it; the proxy emits nothing, and does
	// not wait for itself on that id's key (15 s, state_lock_timeout).
	start := time.Now()
	p.call(sales, "PATCH", "/api/v1/people", `{"keys":[`+jean+`,`+dEve+`,`+jean+`],"data":{"role":"CFO"}}`, 422)
	p.call(admin, "DELETE", "/api/v1/people", `[`+dEve+`,`+dEve+`]`, 422)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two batches repeating an id took %s", d)
	}

	// Batch update of tasks: the ones that were not done are completed (B,
	// seen done, and the direct done one, prefetched, are not); reopened,
	// and done again.
	done := p.call(sales, "PATCH", "/api/v1/tasks", `{"keys":[`+dTodo+`,`+dDone+`,`+tA+`,`+tB+`,`+tC+`],"data":{"status":"done"}}`, 200)
	p.call(sales, "PATCH", "/api/v1/tasks", `{"keys":[`+tA+`,`+dTodo+`],"data":{"status":"todo"}}`, 200)
	p.call(sales, "PATCH", "/api/v1/tasks", `{"keys":[`+tA+`],"data":{"status":"finished"}}`, 422)
	again := p.call(admin, "PATCH", "/api/v1/tasks", `{"keys":[`+dTodo+`],"data":{"status":"done"}}`, 200)
	quick := p.call(sales, "POST", "/api/v1/tasks/"+tA+"/quick-action", `{"action":"mark_done"}`, 200) // reopened by the batch: completed
	p.call(sales, "POST", "/api/v1/tasks/"+tC+"/quick-action", `{"action":"mark_done"}`, 200)          // done by the batch: nothing

	// Batch delete: the people as last seen (Lucas Martin), or prefetched
	// (Inès, never seen).
	p.call(sales, "DELETE", "/api/v1/people", `[`+anne+`,`+dInes+`]`, 403)
	p.call(admin, "DELETE", "/api/v1/people", `[`+anne+`,999]`, 404)
	p.call(admin, "DELETE", "/api/v1/people", `[`+anne+`,`+dInes+`,`+dLuc+`]`, 204)
	p.call(admin, "DELETE", "/api/v1/people", `[`+anne+`]`, 404)
	p.call(sales, "GET", "/api/v1/people/"+dEve, "", 200)

	got := p.events()
	person := func(user, id, first, last, email string) string {
		return `"` + user + `" {"person_id":` + id + `,"first_name":"` + first + `","last_name":"` + last + `","email":` + email + `}`
	}
	completed := func(user string, task gjson.Result) string {
		return `"` + user + `" {"task_id":` + task.Get("id").Raw + `,"title":` + task.Get("title").Raw + `,"completed_at":` + task.Get("completed_at").Raw + `}`
	}
	sameEvents(t, "person.created", got["person.created"], []string{
		person(sales, jean, "Jean", "Dupont", `"jean@acme.fr"`),
		person(sales, anne, "Anne", "Martin", "null"),
		person(sales, paul, "Paul", "Petit", "null"),
	})
	sameEvents(t, "person.updated", got["person.updated"], []string{
		person(sales, jean, "Jean", "Martin", `"jean@acme.fr"`),
		person(sales, dLuc, "Luc", "Martin", `"luc@delta.fr"`),
		person(sales, dLuc, "Lucas", "Martin", `"luc@delta.fr"`),
		person(admin, jean, "Jean", "Martin", `"jean@acme.fr"`),
	})
	deleted := func(id, first, last string) string {
		return `"` + admin + `" {"person_id":` + id + `,"first_name":"` + first + `","last_name":"` + last + `"}`
	}
	sameEvents(t, "person.deleted", got["person.deleted"], []string{
		deleted(anne, "Anne", "Martin"), deleted(dInes, "Inès", "Roux"), deleted(dLuc, "Lucas", "Martin"),
	})
	task := func(i int) string {
		e := ts.Get(fmt.Sprint(i))
		return `"` + admin + `" {"task_id":` + e.Get("id").Raw + `,"title":` + e.Get("title").Raw + `,"status":` + e.Get("status").Raw +
			`,"due_date":` + e.Get("due_date").Raw + `,"priority":` + e.Get("priority").Raw + `}`
	}
	sameEvents(t, "task.created", got["task.created"], []string{task(0), task(1), task(2)})
	sameEvents(t, "task.completed", got["task.completed"], []string{
		completed(sales, done.Get("0")), // the direct todo one
		completed(sales, done.Get("2")), // A
		completed(sales, done.Get("4")), // C
		completed(admin, again.Get("0")),
		completed(sales, quick),
	})
	if done.Get("1.status").String() != "done" || done.Get("3.completed_at").Raw != ts.Get("1.completed_at").Raw {
		t.Errorf("the batch changed the done tasks: %s", done.Raw)
	}
	for name, evs := range got {
		switch name {
		case "person.created", "person.updated", "person.deleted", "task.created", "task.completed":
		default:
			t.Errorf("%d unexpected %s", len(evs), name)
		}
	}
}

// TestCRMBatchConcurrentChains sends concurrent batch PATCHes (of
// overlapping sets of ids, in random orders), single PUTs and quick
// actions on the same tasks and people, some of them never seen by the
// proxy: each task.completed must be one real transition to done (one per
// distinct completed_at the CRM answered, none twice), and each
// person.updated one real change (one per distinct updated_at answered).
func TestCRMBatchConcurrentChains(t *testing.T) {
	p := startCRMProxy(t)
	tasks := p.call(sales, "POST", "/api/v1/tasks", `[{"title":"T1","due_date":"2026-12-01"},{"title":"T2","due_date":"2026-12-01"},{"title":"T3","due_date":"2026-12-01","status":"done"}]`, 201).Array()
	tasks = append(tasks, p.direct(sales, "POST", "/api/v1/tasks", `[{"title":"D1","due_date":"2026-12-01"},{"title":"D2","due_date":"2026-12-01","status":"done"},{"title":"D3","due_date":"2026-12-01","status":"doing"}]`, 201).Array()...)
	people := p.call(sales, "POST", "/api/v1/people", `[{"first_name":"P1","last_name":"A"},{"first_name":"P2","last_name":"B"}]`, 201).Array()
	people = append(people, p.direct(sales, "POST", "/api/v1/people", `[{"first_name":"D1","last_name":"A"},{"first_name":"D2","last_name":"C"}]`, 201).Array()...)

	// seen: per record id, the documents the CRM answered, by completed_at
	// (tasks) or updated_at (people).
	type seen map[string]map[string]gjson.Result
	var mu sync.Mutex
	taskSeen, personSeen := seen{}, seen{}
	note := func(s seen, doc gjson.Result, field string) {
		mu.Lock()
		defer mu.Unlock()
		id := doc.Get("id").String()
		if s[id] == nil {
			s[id] = map[string]gjson.Result{}
		}
		if v := doc.Get(field); v.Type == gjson.String {
			s[id][v.String()] = doc
		}
	}
	initial := map[string]string{} // id -> the completed_at or updated_at it was created with
	for _, tk := range tasks {
		note(taskSeen, tk, "completed_at")
		initial["task:"+tk.Get("id").String()] = tk.Get("completed_at").String()
	}
	for _, pp := range people {
		note(personSeen, pp, "updated_at")
		initial["person:"+pp.Get("id").String()] = pp.Get("updated_at").String()
	}

	const workers, ops = 6, 12
	var wg sync.WaitGroup
	for g := range workers {
		r := rand.New(rand.NewPCG(uint64(g), 42))
		wg.Go(func() {
			subset := func(recs []gjson.Result) string {
				var ids []string
				for _, i := range r.Perm(len(recs))[:2+r.IntN(len(recs)-1)] {
					ids = append(ids, recs[i].Get("id").String())
				}
				return "[" + strings.Join(ids, ",") + "]"
			}
			for range ops {
				var method, path, body, kind string
				switch x := r.IntN(5); x {
				case 0:
					method, path, kind = "PATCH", "/api/v1/tasks", "tasks"
					body = `{"keys":` + subset(tasks) + `,"data":{"status":"` + pick(r, "done", "done", "todo", "doing") + `"}}`
				case 1:
					method, path, kind = "PUT", "/api/v1/tasks/"+pick(r, tasks...).Get("id").String(), "task"
					body = `{"status":"` + pick(r, "done", "todo") + `"}`
				case 2:
					method, path, kind = "POST", "/api/v1/tasks/"+pick(r, tasks...).Get("id").String()+"/quick-action", "task"
					body = `{"action":"mark_done"}`
				case 3:
					method, path, kind = "PATCH", "/api/v1/people", "people"
					body = `{"keys":` + subset(people) + `,"data":{"last_name":"` + pick(r, "A", "B", "C") + `"}}`
				case 4:
					method, path, kind = "PUT", "/api/v1/people/"+pick(r, people...).Get("id").String(), "person"
					body = `{"last_name":"` + pick(r, "A", "B", "C") + `"}`
				}
				code, a, err := p.send(p.base, sales, method, path, body)
				if err != nil || code != 200 {
					t.Errorf("%s %s %s: %d %s %v", method, path, body, code, a.Raw, err)
					continue
				}
				switch kind {
				case "tasks":
					for _, tk := range a.Array() {
						note(taskSeen, tk, "completed_at")
					}
				case "task":
					note(taskSeen, a, "completed_at")
				case "people":
					for _, pp := range a.Array() {
						note(personSeen, pp, "updated_at")
					}
				case "person":
					note(personSeen, a, "updated_at")
				}
			}
		})
	}
	wg.Wait()

	var wantDone, wantUpdated []string
	for id, byAt := range taskSeen {
		for at, doc := range byAt {
			if at != initial["task:"+id] {
				wantDone = append(wantDone, `"`+sales+`" {"task_id":`+id+`,"title":`+doc.Get("title").Raw+`,"completed_at":"`+at+`"}`)
			}
		}
	}
	for id, byAt := range personSeen {
		for at, doc := range byAt {
			if at != initial["person:"+id] {
				wantUpdated = append(wantUpdated, `"`+sales+`" {"person_id":`+id+`,"first_name":`+doc.Get("first_name").Raw+
					`,"last_name":`+doc.Get("last_name").Raw+`,"email":null}`)
			}
		}
	}
	got := p.events()
	sameEvents(t, "task.completed", got["task.completed"], wantDone)
	sameEvents(t, "person.updated", got["person.updated"], wantUpdated)
	t.Logf("%d workers × %d requests: %d task.completed, %d person.updated", workers, ops, len(got["task.completed"]), len(got["person.updated"]))
	if len(wantDone) == 0 || len(wantUpdated) == 0 {
		t.Errorf("the traffic made no transition: %d completions, %d changes", len(wantDone), len(wantUpdated))
	}
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }
