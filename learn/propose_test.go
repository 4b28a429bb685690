package learn

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// order is a shop order document.
func order(id, status, updated string, extra ...string) string {
	return fmt.Sprintf(`{"_id":%q,"orderNumber":"CMD-%s","status":%q,"total":10,"updatedAt":%q%s}`,
		id, id[len(id)-3:], status, updated, strings.Join(extra, ""))
}

func TestProposeShopLike(t *testing.T) {
	m := New(Options{})
	ids := []string{"6b0403f897c5daf2954ab001", "6b0403f897c5daf2954ab002", "6b0403f897c5daf2954ab003"}
	for i, id := range ids {
		observe(m,
			ex("POST", "/api/orders", 201, `{"items":[{"sku":"A"}]}`, order(id, "pending", "t0")),
			ex("POST", "/api/orders", 400, `{}`, `{"error":"items"}`),
			ex("GET", "/api/orders/"+id, 200, "", order(id, "pending", "t0")),
			ex("PUT", "/api/orders/"+id+"/status", 200, `{"status":"paid"}`, order(id, "paid", "t1")),
			ex("PATCH", "/api/orders/"+id+"/status", 200, `{"status":"shipped"}`, order(id, "shipped", "t2")),
			ex("PATCH", "/api/orders/"+id+"/status", 200, `{"status":"shipped"}`, order(id, "shipped", fmt.Sprint("t3", i))),
			ex("PUT", "/api/orders/"+id+"/status", 409, `{"status":"x"}`, `{"error":"no"}`),
		)
	}
	specs := load(t, m)
	if got := names(specs); !slices.Equal(got, []string{"order.created", "order.status_changed"}) {
		t.Errorf("events %q", got)
	}
	created := mustRule(t, m, specs, "order.created", "POST", "/api/orders")
	if !slices.Equal(created.Match.Status, []string{"201"}) || created.Each == nil || created.Each.Source != "response.body" ||
		created.State.Key != "order:{item._id}" || data(created)["orderId"] != "item._id" || data(created)["status"] != "item.status" {
		t.Errorf("order.created: %+v %+v %v", created.Match, created.State, data(created))
	}
	sc := mustRule(t, m, specs, "order.status_changed", "PATCH", "/api/orders/{id}/status")
	if !slices.Equal(sc.Match.Method, []string{"PUT", "PATCH"}) || sc.State.Key != "order:{path.id}" ||
		sc.State.Prefetch != "GET /api/orders/{path.id}" || sc.When != "previous.status != response.body.status" {
		t.Errorf("order.status_changed: %+v %+v when %q", sc.Match, sc.State, sc.When)
	}
	if d := data(sc); d["oldStatus"] != "previous.status" || d["newStatus"] != "response.body.status" || d["orderId"] != "response.body._id" {
		t.Errorf("order.status_changed data %v", d)
	}
	read := slices.IndexFunc(specs, func(s rules.Spec) bool { return s.Name == "" })
	if read < 0 || specs[read].Match.Path != "/api/orders/{id}" || specs[read].State.Key != "order:{path.id}" {
		t.Errorf("no state rule on the GET of one order")
	}
}

// task is a CRM task document.
func task(id int, status, updated string) string {
	return fmt.Sprintf(`{"id":%d,"title":"T%d","status":%q,"due_date":"2026-12-01","updated_at":%q}`, id, id, status, updated)
}

func TestProposeCRMLike(t *testing.T) {
	m := New(Options{})
	observe(m,
		ex("POST", "/api/v1/tasks", 201, `{"title":"T1"}`, task(1, "todo", "t0")),
		ex("POST", "/api/v1/tasks", 201, `[{"title":"T2"},{"title":"T3"}]`, "["+task(2, "todo", "t0")+","+task(3, "doing", "t0")+"]"),
		ex("GET", "/api/v1/tasks/1", 200, "", task(1, "todo", "t0")),
		ex("PUT", "/api/v1/tasks/1", 200, `{"status":"doing"}`, task(1, "doing", "t1")),
		ex("PUT", "/api/v1/tasks/1", 200, `{"status":"doing"}`, task(1, "doing", "t1")), // no-op: updated_at stays
		ex("POST", "/api/v1/tasks/2/quick-action", 200, `{"action":"mark_done"}`, task(2, "done", "t2")),
		ex("POST", "/api/v1/tasks/2/quick-action", 200, `{"action":"mark_done"}`, task(2, "done", "t2")),
		ex("PATCH", "/api/v1/tasks", 200, `{"keys":[1,3],"data":{"status":"done"}}`, "["+task(1, "done", "t3")+","+task(3, "done", "t3")+"]"),
		ex("DELETE", "/api/v1/tasks/3", 204, "", ""),
		ex("DELETE", "/api/v1/tasks", 204, `[1, 2]`, ""),
		ex("DELETE", "/api/v1/tasks/9", 404, "", `{"detail":"no"}`),
	)
	specs := load(t, m)
	want := []string{"task.created", "task.deleted", "task.status_changed", "task.updated"}
	if got := names(specs); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	created := mustRule(t, m, specs, "task.created", "POST", "/api/v1/tasks")
	if created.Each == nil || created.Each.Source != "response.body" || created.State.Key != "task:{item.id}" || data(created)["task_id"] != "item.id" {
		t.Errorf("task.created: each %+v state %+v data %v", created.Each, created.State, data(created))
	}
	up := mustRule(t, m, specs, "task.updated", "PUT", "/api/v1/tasks/{id}")
	if up.When != "previous.updated_at != response.body.updated_at" || up.State.Prefetch != "GET /api/v1/tasks/{path.id}" {
		t.Errorf("task.updated: when %q state %+v", up.When, up.State)
	}
	batch := mustRule(t, m, specs, "task.updated", "PATCH", "/api/v1/tasks")
	if batch.Each == nil || *batch.Each != (rules.EachSpec{Source: "request.body.keys", Response: "response.body", By: "id"}) ||
		batch.State.Key != "task:{item}" || batch.State.Prefetch != "GET /api/v1/tasks/{item}" ||
		batch.When != "previous.updated_at != response.item.updated_at" {
		t.Errorf("batch task.updated: each %+v state %+v when %q", batch.Each, batch.State, batch.When)
	}
	del := mustRule(t, m, specs, "task.deleted", "DELETE", "/api/v1/tasks/{id}")
	if del.State.Snapshot != "none" || del.State.Prefetch == "" || data(del)["task_id"] != "previous.id" || data(del)["title"] != "previous.title" {
		t.Errorf("task.deleted: state %+v data %v", del.State, data(del))
	}
	bdel := mustRule(t, m, specs, "task.deleted", "DELETE", "/api/v1/tasks")
	if bdel.Each == nil || bdel.Each.Source != "request.body" || bdel.State.Key != "task:{item}" || data(bdel)["task_id"] != "item" {
		t.Errorf("batch task.deleted: each %+v state %+v data %v", bdel.Each, bdel.State, data(bdel))
	}
	for _, route := range [][2]string{{"PUT", "/api/v1/tasks/{id}"}, {"POST", "/api/v1/tasks/{id}/quick-action"}, {"PATCH", "/api/v1/tasks"}} {
		sc := mustRule(t, m, specs, "task.status_changed", route[0], route[1])
		if d := data(sc); d["old_status"] != "previous.status" || !strings.HasSuffix(d["new_status"], ".status") {
			t.Errorf("task.status_changed on %s: data %v", route, d)
		}
	}
	rep := m.Report()
	if len(rep.Resources) != 1 || rep.Resources[0].LastModified == nil || rep.Resources[0].LastModified.Field != "updated_at" ||
		rep.Resources[0].Style != "snake_case" || rep.Resources[0].Read != "GET /api/v1/tasks/{id}" {
		t.Errorf("report: %+v", rep.Resources)
	}
}

func TestProposeEnvelope(t *testing.T) {
	m := New(Options{})
	doc := func(id int, status string) string {
		return fmt.Sprintf(`{"data":{"id":%d,"status":%q,"date_updated":"t-%s"}}`, id, status, status)
	}
	for id := 1; id <= 3; id++ {
		p := fmt.Sprint("/items/orders/", id)
		observe(m,
			ex("POST", "/items/orders", 200, `{"status":"draft"}`, doc(id, "draft")),
			ex("GET", p, 200, "", doc(id, "draft")),
			ex("PATCH", p, 200, `{"status":"published"}`, doc(id, "published")),
		)
	}
	specs := load(t, m)
	created := mustRule(t, m, specs, "order.created", "POST", "/items/orders")
	if created.Each == nil || created.Each.Source != "response.body.data" || created.State.Key != "order:{item.id}" ||
		data(created)["order_id"] != "item.id" {
		t.Errorf("order.created: state %+v data %v", created.State, data(created))
	}
	up := mustRule(t, m, specs, "order.updated", "PATCH", "/items/orders/{id}")
	if up.State.Prefetch != "GET /items/orders/{path.id}" || up.State.PrefetchSelect != "data" ||
		up.State.Snapshot != "response.body.data" || up.When != "previous.date_updated != response.body.data.date_updated" {
		t.Errorf("order.updated: state %+v when %q", up.State, up.When)
	}
	sc := mustRule(t, m, specs, "order.status_changed", "PATCH", "/items/orders/{id}")
	if sc.When != "previous.status != response.body.data.status" || sc.State.PrefetchSelect != "data" {
		t.Errorf("order.status_changed: state %+v when %q", sc.State, sc.When)
	}
}

func TestProposeSecrets(t *testing.T) {
	m := New(Options{})
	user := func(id, name string) string {
		return fmt.Sprintf(`{"uuid":%q,"name":%q,"passwordHash":"x","profile":{"apiKey":"k"},"updatedAt":"t-%s"}`, id, name, name)
	}
	id := "550e8400-e29b-41d4-a716-446655440000"
	observe(m,
		ex("POST", "/users", 201, `{"name":"a","password":"p"}`, user(id, "a")),
		ex("GET", "/users/"+id, 200, "", user(id, "a")),
		ex("PUT", "/users/"+id, 200, `{"name":"b"}`, user(id, "b")),
	)
	specs := load(t, m)
	for _, s := range specs {
		if s.Name == "" {
			if s.State.Snapshot != "response.body" || !slices.Contains(s.State.SnapshotRedact, "*.passwordHash") {
				t.Errorf("the read rule keeps secrets: %+v", s.State)
			}
			continue
		}
		for _, secret := range []string{"*.password", "*.passwordHash", "*.apiKey"} {
			if !slices.Contains(s.Redact, secret) {
				t.Errorf("%s: redact %q, want %s", s.Name, s.Redact, secret)
			}
		}
		if _, ok := data(&s)["passwordHash"]; ok {
			t.Errorf("%s copies passwordHash", s.Name)
		}
	}
	created := mustRule(t, m, specs, "user.created", "POST", "/users")
	if created.State.Key != "user:{item.uuid}" || data(created)["userId"] != "item.uuid" {
		t.Errorf("user.created: %+v %v", created.State, data(created))
	}
	rep := m.Report()
	var secrets []string
	for _, s := range rep.Secrets {
		secrets = append(secrets, s.Side+" "+s.Field)
	}
	if !slices.Contains(secrets, "request password") || !slices.Contains(secrets, "response profile.apiKey") {
		t.Errorf("report secrets %q", secrets)
	}
}

// TestProposeChildUnderParent: POST /interactions/organisation/{id}
// answers an interaction whose id may equal the organisation's by chance;
// it is interaction.created all the same, not an organisation action.
func TestProposeChildUnderParent(t *testing.T) {
	m := New(Options{})
	inter := func(id, org int, subject string) string {
		return fmt.Sprintf(`{"id":%d,"organisation_id":%d,"subject":%q,"updated_at":"t-%s"}`, id, org, subject, subject)
	}
	for id := 1; id <= 3; id++ {
		observe(m,
			ex("POST", "/api/v1/organisations", 201, `{"name":"o"}`, fmt.Sprintf(`{"id":%d,"name":"o%d"}`, id, id)),
			ex("POST", fmt.Sprint("/api/v1/interactions/organisation/", id), 201, `{"subject":"s"}`, inter(id, id, "s")),
			ex("GET", fmt.Sprint("/api/v1/interactions/", id), 200, "", inter(id, id, "s")),
			ex("PUT", fmt.Sprint("/api/v1/interactions/", id), 200, `{"subject":"t"}`, inter(id, id, "t")),
		)
	}
	specs := load(t, m)
	want := []string{"interaction.created", "interaction.updated", "organisation.created"}
	if got := names(specs); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q\n%s", got, want, m.Rules())
	}
	c := mustRule(t, m, specs, "interaction.created", "POST", "/api/v1/interactions/organisation/{id}")
	if c.State.Key != "interaction:{item.id}" || data(c)["interaction_id"] != "item.id" {
		t.Errorf("interaction.created: %+v %v", c.State, data(c))
	}
}

func TestProposeNames(t *testing.T) {
	m := New(Options{})
	member := func(id int) string { return fmt.Sprintf(`{"id":%d,"role":"x"}`, id) }
	observe(m,
		ex("POST", "/orgs/1/members", 201, `{}`, member(5)),
		ex("POST", "/teams/1/members", 201, `{}`, member(6)),
		ex("POST", "/api/v1/orders", 201, `{}`, member(7)),
		ex("POST", "/api/v2/orders", 201, `{}`, member(8)),
		ex("POST", "/api/people", 201, `{}`, `{"personId":"p1","name":"x"}`),
	)
	specs := load(t, m)
	want := []string{"order.created", "order2.created", "org_member.created", "person.created", "team_member.created"}
	if got := names(specs); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q\n%s", got, want, m.Rules())
	}
	if s := mustRule(t, m, specs, "person.created", "POST", "/api/people"); s.State.Key != "person:{item.personId}" {
		t.Errorf("person.created: %+v", s.State)
	}
	if s := mustRule(t, m, specs, "org_member.created", "POST", "/orgs/{id}/members"); data(s)["orgMemberId"] != "item.id" {
		t.Errorf("org_member.created: %v", data(s))
	}
}

func TestProposeNothing(t *testing.T) {
	for name, xs := range map[string][]*Exchange{
		"no traffic": nil,
		"reads only": {ex("GET", "/api/orders/1", 200, "", `{"id":1}`), ex("GET", "/api/orders", 200, "", `[{"id":1}]`)},
		"failures":   {ex("POST", "/api/orders", 400, `{}`, `{"error":"x"}`)},
		"no ids":     {ex("POST", "/api/webhooks/stripe", 200, `{"type":"x"}`, `{"received":true}`)},
		"not JSON":   {{Method: "POST", Path: "/api/orders", Status: 201, ResponseType: "text/html", ResponseBody: []byte(`{"id":1}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			m := New(Options{})
			observe(m, xs...)
			specs := load(t, m)
			if got := names(specs); !slices.Equal(got, []string{"learn.placeholder"}) || !specs[0].Shadow {
				t.Errorf("events %q", got)
			}
		})
	}
	m := New(Options{})
	observe(m, ex("POST", "/api/webhooks/stripe", 200, `{"type":"x"}`, `{"received":true}`))
	if y := string(m.Rules()); !strings.Contains(y, "POST /api/webhooks/stripe: the answer names no resource") {
		t.Errorf("the stripe callback is not listed as not proposed:\n%s", y)
	}
}

func TestReset(t *testing.T) {
	m := New(Options{})
	observe(m, ex("POST", "/api/orders", 201, `{}`, `{"id":1}`))
	m.Reset()
	rep := m.Report()
	if rep.Exchanges != 0 || rep.Templates != 0 || len(rep.Routes) != 0 || len(rep.Resources) != 0 {
		t.Errorf("after Reset: %+v", rep)
	}
	observe(m, ex("POST", "/api/orders", 201, `{}`, `{"id":1}`))
	if names(load(t, m))[0] != "order.created" {
		t.Error("nothing learned after Reset")
	}
}

// TestProposeForget: a write whose answer shows no resource but whose
// request names one (a payment provider's callback) forgets its state.
func TestProposeForget(t *testing.T) {
	m := New(Options{})
	id := "6b0403f897c5daf2954abf6e"
	observe(m,
		ex("POST", "/api/orders", 201, `{}`, order(id, "pending", "t0")),
		ex("GET", "/api/orders/"+id, 200, "", order(id, "pending", "t0")),
		ex("POST", "/api/webhooks/stripe", 200, `{"type":"paid","data":{"object":{"metadata":{"orderId":"`+id+`"},"amount":"4200"}}}`, `{"received":true}`),
		ex("POST", "/api/webhooks/stripe", 200, `{"type":"other","data":{"object":{"id":"`+id+`"}}}`, `{"received":true}`),
		ex("PUT", "/api/orders/"+id+"/status", 200, `{"status":"shipped"}`, order(id, "shipped", "t1")),
	)
	specs := load(t, m)
	var forget []rules.Spec
	for _, s := range specs {
		if s.Name == "" && s.Match.Path == "/api/webhooks/stripe" {
			forget = append(forget, s)
		}
	}
	// data.object.id is an id under a generic name, orderId one under the
	// order's name; amount is not an id.
	if len(forget) != 2 || forget[0].State.Key != "order:{request.body.data.object.id}" ||
		forget[1].State.Key != "order:{request.body.data.object.metadata.orderId}" || forget[1].State.Snapshot != "none" {
		t.Errorf("forget rules %+v", forget)
	}
	if strings.Contains(string(m.Rules()), "Not proposed") {
		t.Errorf("the callback is covered, yet listed as not proposed")
	}
}

func TestProposeSearchIsNotCreate(t *testing.T) {
	m := New(Options{})
	list := `[{"id":1,"status":"a"},{"id":2,"status":"b"}]`
	observe(m,
		ex("POST", "/api/orders", 201, `{}`, `{"id":1,"status":"a"}`),
		ex("POST", "/api/orders", 201, `{}`, `{"id":2,"status":"b"}`),
		ex("POST", "/api/orders/search", 200, `{"q":"x"}`, list),
		ex("POST", "/api/orders/lookup2", 200, `{"q":"x"}`, list),
		ex("POST", "/api/orders/lookup2", 200, `{"q":"y"}`, list),
	)
	specs := load(t, m)
	if got := names(specs); !slices.Equal(got, []string{"order.created"}) {
		t.Errorf("events %q", got)
	}
}

func TestProposeUpdateWithoutBody(t *testing.T) {
	m := New(Options{})
	observe(m,
		ex("POST", "/api/things", 201, `{}`, `{"id":"t1","name":"a"}`),
		ex("PUT", "/api/things/42", 204, `{"name":"b"}`, ``),
	)
	specs := load(t, m)
	up := mustRule(t, m, specs, "thing.updated", "PUT", "/api/things/{id}")
	if up.State.Snapshot != "none" || data(up)["changes"] != "request.body" || data(up)["thingId"] != "path.id" || up.When != "" {
		t.Errorf("thing.updated: %+v %v when %q", up.State, data(up), up.When)
	}
}
