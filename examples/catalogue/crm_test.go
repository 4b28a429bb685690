package catalogue_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// The CRM's traffic (the CRM's thirteen events). The client's model of
// each record is the last answer that showed it, with what the CRM does to
// other records on a deletion (it clears their references to the deleted
// one without moving their updated_at, and deletes an organisation's
// mandats and interactions). "Changed" is the catalogue's oracle: the
// answer's updated_at moved. Batches (people and tasks created, updated or
// deleted several at a time) expect one event per record, as the single
// requests would.

// CRM users (X-User-Id).
const (
	admin    = "1"
	sales    = "12"
	viewer   = "30"
	inactive = "41"
)

// record is the model of one CRM record: its last known document.
type record struct {
	id  int
	doc map[string]any
}

func (r *record) str(k string) string { s, _ := r.doc[k].(string); return s }

func (r *record) ref(k string) int { f, _ := r.doc[k].(float64); return int(f) }

type crmWorker struct {
	g          int
	r          *rand.Rand
	c          *caller
	proxy, app string
	n          int
	recs       map[string][]*record // by kind: organisations, people, tasks, mandats, interactions
	gone       map[string][]int     // deleted ids by kind
	direct     map[*record]bool     // the records created straight on the CRM
}

func (w *crmWorker) next() int { w.n++; return w.n }

func (w *crmWorker) init() {
	if w.recs == nil {
		w.recs, w.gone, w.direct = map[string][]*record{}, map[string][]int{}, map[*record]bool{}
	}
}

func (w *crmWorker) run(ops int) {
	w.init()
	for range ops {
		if len(w.recs["organisations"]) < 2 {
			w.createOrg(chance(w.r, 0.3))
			continue
		}
		switch x := w.r.IntN(100); {
		case x < 7:
			w.createOrg(chance(w.r, 0.3))
		case x < 12:
			w.updateOrg()
		case x < 16:
			w.deleteOrg()
		case x < 21:
			w.createPerson(chance(w.r, 0.3))
		case x < 27:
			w.updatePerson()
		case x < 31:
			w.deletePerson()
		case x < 36:
			w.createTask(chance(w.r, 0.3))
		case x < 44:
			w.quickAction()
		case x < 50:
			w.updateTask()
		case x < 52:
			w.deleteOther("tasks")
		case x < 58:
			w.createMandat(chance(w.r, 0.3))
		case x < 65:
			w.updateMandat()
		case x < 67:
			w.deleteOther("mandats")
		case x < 72:
			w.createInteraction(chance(w.r, 0.3))
		case x < 78:
			w.updateInteraction()
		case x < 80:
			w.batchCreate(pick(w.r, "people", "tasks"), chance(w.r, 0.2))
		case x < 83:
			w.batchUpdatePeople()
		case x < 86:
			w.batchUpdateTasks()
		case x < 88:
			w.batchDeletePeople()
		case x < 94:
			w.read()
		default:
			w.refused()
		}
	}
}

// writer is the user of a write: mostly sales, sometimes the admin.
func (w *crmWorker) writer() string { return pick(w.r, sales, sales, sales, admin) }

func (w *crmWorker) live(kind string) *record {
	if rs := w.recs[kind]; len(rs) > 0 {
		return pick(w.r, rs...)
	}
	return nil
}

// send sends a request through Caddy (or straight to the CRM) as user.
func (w *crmWorker) send(direct bool, user, method, path, body string) answer {
	base := w.proxy
	if direct {
		base = w.app
	}
	return w.c.do(!direct, base, method, path, body, "X-User-Id", user)
}

func q(user string) string { return strconv.Quote(user) }

func idPath(kind string, id int) string { return "/api/v1/" + kind + "/" + strconv.Itoa(id) }

// create posts a new record of kind; on 201 it is modelled, and through
// Caddy the events of the answer are expected.
func (w *crmWorker) create(direct bool, kind, path, body string, events func(user string, a answer, what string)) *record {
	user := w.writer()
	a := w.send(direct, user, "POST", path, body)
	what := "POST " + path + " " + body
	w.c.want(a, what, 201)
	if a.status != 201 {
		return nil
	}
	rec := &record{id: int(a.body.Get("id").Int()), doc: a.doc}
	w.recs[kind] = append(w.recs[kind], rec)
	w.direct[rec] = direct
	if !direct {
		events(user, a, what+" as "+user)
	}
	return rec
}

// update PUTs body to rec; on 200 the model takes the answer, and
// changed says whether updated_at moved.
func (w *crmWorker) update(kind string, rec *record, body string, code int) (a answer, user, what string, changed bool) {
	user = w.writer()
	path := idPath(kind, rec.id)
	a = w.send(false, user, "PUT", path, body)
	what = "PUT " + path + " " + body + " as " + user
	w.c.want(a, what, code)
	if a.status != 200 {
		return a, user, what, false
	}
	before := rec.str("updated_at")
	rec.doc = a.doc
	return a, user, what, before != rec.str("updated_at")
}

func (w *crmWorker) forget(kind string, id int) {
	w.recs[kind] = slices.DeleteFunc(w.recs[kind], func(r *record) bool { return r.id == id })
	w.gone[kind] = append(w.gone[kind], id)
}

// unknownID is an id of kind that does not exist (any more).
func (w *crmWorker) unknownID(kind string) int {
	if g := w.gone[kind]; len(g) > 0 && chance(w.r, 0.6) {
		return pick(w.r, g...)
	}
	return 900000 + w.r.IntN(1000)
}

// ------------------------------------------------------------ organisations

func orgData(a answer) map[string]any {
	return map[string]any{"organisation_id": jv(a.body.Get("id")), "name": jv(a.body.Get("name")),
		"category": jv(a.body.Get("category")), "country_code": jv(a.body.Get("country_code"))}
}

var categories = []string{"Institution", "Wholesale", "SDG", "CGPI", "Autres"}

func (w *crmWorker) createOrg(direct bool) {
	n := w.next()
	kv := []any{"name", fmt.Sprintf("Org %d-%d", w.g, n), "category", pick(w.r, categories...)}
	if chance(w.r, 0.6) {
		kv = append(kv, "country_code", pick(w.r, "fr", "CH", "be", "LU"))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "aum", float64(w.r.IntN(1000))*1e6)
	}
	w.create(direct, "organisations", "/api/v1/organisations", obj(kv...), func(user string, a answer, what string) {
		w.c.tally.expect("organisation.created", q(user), orgData(a), what)
	})
}

func (w *crmWorker) updateOrg() {
	org := w.live("organisations")
	n := w.next()
	var kv []any
	if chance(w.r, 0.3) {
		kv = append(kv, "name", pick(w.r, org.str("name"), fmt.Sprintf("Org %d-%d bis", w.g, n)))
	}
	if chance(w.r, 0.4) {
		kv = append(kv, "category", pick(w.r, org.str("category"), pick(w.r, categories...)))
	}
	if chance(w.r, 0.4) {
		kv = append(kv, "country_code", pick[any](w.r, org.doc["country_code"], "ch", "DE", nil))
	}
	if chance(w.r, 0.2) {
		kv = append(kv, "notes", pick(w.r, "VIP", "à relancer"))
	}
	a, user, what, changed := w.update("organisations", org, obj(kv...), 200)
	if changed {
		w.c.tally.expect("organisation.updated", q(user), orgData(a), what)
	}
}

// linked returns, most of the time, a live record of kind that a live
// record of by refers to through field (so that deleting it changes
// others), else any live record of kind.
func (w *crmWorker) linked(kind, by, field string) *record {
	if chance(w.r, 0.75) {
		var ids []int
		for _, r := range w.recs[by] {
			if id := r.ref(field); id != 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			id := pick(w.r, ids...)
			for _, r := range w.recs[kind] {
				if r.id == id {
					return r
				}
			}
		}
	}
	return w.live(kind)
}

func (w *crmWorker) deleteOrg() {
	org := w.linked("organisations", "people", "organisation_id")
	user := pick(w.r, admin, admin, sales)
	path := idPath("organisations", org.id)
	a := w.send(false, user, "DELETE", path, "")
	if user != admin {
		w.c.want(a, "DELETE "+path+" as "+user, 403)
		return
	}
	w.c.want(a, "DELETE "+path, 204)
	if a.status != 204 {
		return
	}
	w.c.tally.expect("organisation.deleted", q(user), map[string]any{"organisation_id": org.id, "name": org.str("name")}, "DELETE "+path+" as "+user)
	w.forget("organisations", org.id)
	// The CRM deletes its mandats and interactions, and clears it from
	// people and tasks (their updated_at stays).
	for _, kind := range []string{"mandats", "interactions"} {
		for _, r := range slices.Clone(w.recs[kind]) {
			if r.ref("organisation_id") == org.id {
				w.forget(kind, r.id)
			}
		}
	}
	w.touchAfterCascade("people", w.clearRefs("organisation_id", org.id, "people", "tasks"))
}

// clearRefs clears field where it names id on the records of kinds, as the
// CRM does when id is deleted (their updated_at stays), and returns the
// records of the first kind it changed.
func (w *crmWorker) clearRefs(field string, id int, kinds ...string) []*record {
	var touched []*record
	for _, kind := range kinds {
		for _, r := range w.recs[kind] {
			if r.ref(field) == id {
				r.doc[field] = nil
				if kind == kinds[0] {
					touched = append(touched, r)
				}
			}
		}
	}
	return touched
}

// touchAfterCascade often sends a PUT that changes nothing to a record
// that a deletion has just changed behind the proxy's back (a cleared
// reference): it must emit nothing.
func (w *crmWorker) touchAfterCascade(kind string, touched []*record) {
	if len(touched) == 0 || !chance(w.r, 0.9) {
		return
	}
	r := pick(w.r, touched...)
	w.c.tally.mu.Lock()
	w.c.tally.afterCascade++
	w.c.tally.mu.Unlock()
	body := `{}`
	switch kind {
	case "people":
		body = pick(w.r, body, obj("last_name", r.str("last_name")))
	case "interactions":
		body = pick(w.r, body, obj("subject", r.str("subject")))
	}
	a, user, what, changed := w.update(kind, r, body, 200)
	if changed { // a generator mistake: the body changes nothing
		w.c.t.Errorf("%s moved updated_at: %s", what, a.body.Raw)
		name := map[string]string{"people": "person.updated", "interactions": "interaction.updated"}[kind]
		data := map[string]func(answer) map[string]any{"people": personData, "interactions": interactionData}[kind](a)
		w.c.tally.expect(name, q(user), data, what)
	}
}

// ------------------------------------------------------------ people

func personData(a answer) map[string]any {
	return map[string]any{"person_id": jv(a.body.Get("id")), "first_name": jv(a.body.Get("first_name")),
		"last_name": jv(a.body.Get("last_name")), "email": jv(a.body.Get("personal_email"))}
}

// personBody is the body of a new person (the email, when there is one,
// is new).
func (w *crmWorker) personBody() string {
	n := w.next()
	kv := []any{"first_name", pick(w.r, "Jean", "Anne", "Zoé", "Luc"), "last_name", pick(w.r, "Dupont", "Martin", "Bernard")}
	if chance(w.r, 0.7) {
		kv = append(kv, "personal_email", fmt.Sprintf("%s-%d-%d@crm.example", pick(w.r, "p", "P"), w.g, n))
	}
	if org := w.live("organisations"); org != nil && chance(w.r, 0.7) {
		kv = append(kv, "organisation_id", org.id)
	}
	return obj(kv...)
}

func (w *crmWorker) createPerson(direct bool) {
	w.create(direct, "people", "/api/v1/people", w.personBody(), func(user string, a answer, what string) {
		w.c.tally.expect("person.created", q(user), personData(a), what)
	})
}

func (w *crmWorker) updatePerson() {
	p := w.live("people")
	if p == nil {
		w.createPerson(false)
		return
	}
	n := w.next()
	var kv []any
	if chance(w.r, 0.3) {
		kv = append(kv, "first_name", pick(w.r, p.str("first_name"), "Paul"))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "role", pick(w.r, "CIO", "Analyste"))
	}
	if chance(w.r, 0.2) {
		kv = append(kv, "personal_email", pick[any](w.r, p.doc["personal_email"], fmt.Sprintf("new-%d-%d@crm.example", w.g, n)))
	}
	if chance(w.r, 0.2) {
		var org any
		if o := w.live("organisations"); o != nil && chance(w.r, 0.7) {
			org = o.id
		}
		kv = append(kv, "organisation_id", org)
	}
	a, user, what, changed := w.update("people", p, obj(kv...), 200)
	if changed {
		w.c.tally.expect("person.updated", q(user), personData(a), what)
	}
}

func (w *crmWorker) deletePerson() {
	p := w.linked("people", "interactions", "person_id")
	if p == nil {
		w.createPerson(chance(w.r, 0.5))
		return
	}
	user := pick(w.r, admin, admin, sales)
	path := idPath("people", p.id)
	a := w.send(false, user, "DELETE", path, "")
	if user != admin {
		w.c.want(a, "DELETE "+path+" as "+user, 403)
		return
	}
	w.c.want(a, "DELETE "+path, 204)
	if a.status != 204 {
		return
	}
	w.c.tally.expect("person.deleted", q(user), map[string]any{"person_id": p.id, "first_name": p.str("first_name"), "last_name": p.str("last_name")}, "DELETE "+path+" as "+user)
	w.forget("people", p.id)
	w.touchAfterCascade("interactions", w.clearRefs("person_id", p.id, "interactions", "tasks"))
}

// ------------------------------------------------------------ tasks

var taskStatuses = []string{"todo", "doing", "done", "snoozed"}

// taskBody is the body of a new task.
func (w *crmWorker) taskBody() string {
	kv := []any{"title", fmt.Sprintf("Tâche %d-%d", w.g, w.next()), "due_date", fmt.Sprintf("2026-12-%02d", 1+w.r.IntN(28))}
	if chance(w.r, 0.4) {
		kv = append(kv, "status", pick(w.r, taskStatuses...))
	}
	if chance(w.r, 0.4) {
		kv = append(kv, "priority", pick(w.r, "critique", "haute", "basse", "non_prioritaire"))
	}
	if p := w.live("people"); p != nil && chance(w.r, 0.3) {
		kv = append(kv, "person_id", p.id)
	}
	if o := w.live("organisations"); o != nil && chance(w.r, 0.3) {
		kv = append(kv, "organisation_id", o.id)
	}
	return obj(kv...)
}

func taskData(a answer) map[string]any {
	return map[string]any{"task_id": jv(a.body.Get("id")), "title": jv(a.body.Get("title")),
		"status": jv(a.body.Get("status")), "due_date": jv(a.body.Get("due_date")), "priority": jv(a.body.Get("priority"))}
}

func (w *crmWorker) createTask(direct bool) {
	w.create(direct, "tasks", "/api/v1/tasks", w.taskBody(), func(user string, a answer, what string) {
		w.c.tally.expect("task.created", q(user), taskData(a), what)
	})
}

// taskEvents expects task.completed when the task became done.
func taskEvents(tl *tally, old string, user string, a answer, what string) {
	if a.body.Get("status").String() == "done" && old != "done" {
		tl.expect("task.completed", q(user), map[string]any{"task_id": jv(a.body.Get("id")), "title": jv(a.body.Get("title")),
			"completed_at": jv(a.body.Get("completed_at"))}, what)
	}
}

func (w *crmWorker) quickAction() {
	t := w.live("tasks")
	if t == nil {
		w.createTask(chance(w.r, 0.5))
		return
	}
	action := pick(w.r, "mark_done", "mark_done", "snooze_1d", "snooze_1w", "next_day")
	if chance(w.r, 0.05) {
		action = "explode"
	}
	user := w.writer()
	path := idPath("tasks", t.id) + "/quick-action"
	body := obj("action", action)
	what := "POST " + path + " " + body + " as " + user
	a := w.send(false, user, "POST", path, body)
	switch {
	case action == "explode":
		w.c.want(a, what, 422)
	case action != "mark_done" && t.str("status") == "done":
		w.c.want(a, what, 409)
	default:
		w.c.want(a, what, 200)
	}
	if a.status != 200 {
		return
	}
	old := t.str("status")
	t.doc = a.doc
	taskEvents(w.c.tally, old, user, a, what)
}

func (w *crmWorker) updateTask() {
	t := w.live("tasks")
	if t == nil {
		w.createTask(chance(w.r, 0.5))
		return
	}
	var kv []any
	if chance(w.r, 0.7) {
		kv = append(kv, "status", pick(w.r, append(taskStatuses, t.str("status"))...))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "title", pick(w.r, t.str("title"), t.str("title")+" (suite)"))
	}
	old := t.str("status")
	a, user, what, _ := w.update("tasks", t, obj(kv...), 200)
	if a.status == 200 {
		taskEvents(w.c.tally, old, user, a, what)
	}
}

// deleteOther deletes a task or a mandat: 204, no event.
func (w *crmWorker) deleteOther(kind string) {
	r := w.live(kind)
	if r == nil {
		return
	}
	path := idPath(kind, r.id)
	a := w.send(false, w.writer(), "DELETE", path, "")
	w.c.want(a, "DELETE "+path, 204)
	if a.status == 204 {
		w.forget(kind, r.id)
	}
}

// ------------------------------------------------------------ mandats

var mandatStatuses = []string{"proposé", "signé", "actif", "terminé"}

func mandatData(a answer) map[string]any {
	return map[string]any{"mandat_id": jv(a.body.Get("id")), "organisation_id": jv(a.body.Get("organisation_id")),
		"status": jv(a.body.Get("status")), "date_signature": jv(a.body.Get("date_signature"))}
}

func signedData(a answer) map[string]any {
	return map[string]any{"mandat_id": jv(a.body.Get("id")), "organisation_id": jv(a.body.Get("organisation_id")),
		"date_signature": jv(a.body.Get("date_signature"))}
}

func (w *crmWorker) createMandat(direct bool) {
	org := w.live("organisations")
	kv := []any{"organisation_id", org.id}
	if chance(w.r, 0.6) {
		kv = append(kv, "status", pick(w.r, mandatStatuses...))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "date_signature", fmt.Sprintf("2026-10-%02d", 1+w.r.IntN(28)))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "numero_mandat", fmt.Sprintf("M-%d-%d", w.g, w.next()))
	}
	w.create(direct, "mandats", "/api/v1/mandats", obj(kv...), func(user string, a answer, what string) {
		w.c.tally.expect("mandat.created", q(user), mandatData(a), what)
		if a.body.Get("status").String() == "signé" {
			w.c.tally.expect("mandat.signed", q(user), signedData(a), what)
		}
	})
}

func mandatEvents(tl *tally, oldStatus string, changed bool, user string, a answer, what string) {
	if changed {
		tl.expect("mandat.updated", q(user), mandatData(a), what)
	}
	if a.body.Get("status").String() == "signé" && oldStatus != "signé" {
		tl.expect("mandat.signed", q(user), signedData(a), what)
	}
}

func (w *crmWorker) updateMandat() {
	m := w.live("mandats")
	if m == nil {
		w.createMandat(chance(w.r, 0.5))
		return
	}
	var kv []any
	if chance(w.r, 0.8) {
		kv = append(kv, "status", pick(w.r, append(mandatStatuses, m.str("status"))...))
	}
	if chance(w.r, 0.2) {
		kv = append(kv, "notes", pick(w.r, "relu", "à signer"))
	}
	old := m.str("status")
	a, user, what, changed := w.update("mandats", m, obj(kv...), 200)
	if a.status == 200 {
		mandatEvents(w.c.tally, old, changed, user, a, what)
	}
}

// ------------------------------------------------------------ interactions

func interactionData(a answer) map[string]any {
	return map[string]any{"interaction_id": jv(a.body.Get("id")), "organisation_id": jv(a.body.Get("organisation_id")),
		"type": jv(a.body.Get("type")), "subject": jv(a.body.Get("subject"))}
}

var interactionTypes = []string{"call", "email", "meeting", "webinar", "note", "other"}

func (w *crmWorker) createInteraction(direct bool) {
	org := w.live("organisations")
	kv := []any{"type", pick(w.r, interactionTypes...), "subject", fmt.Sprintf("Sujet %d-%d", w.g, w.next())}
	if p := w.live("people"); p != nil && chance(w.r, 0.5) {
		kv = append(kv, "person_id", p.id)
	}
	w.create(direct, "interactions", "/api/v1/interactions/organisation/"+strconv.Itoa(org.id), obj(kv...), func(user string, a answer, what string) {
		w.c.tally.expect("interaction.created", q(user), interactionData(a), what)
	})
}

func (w *crmWorker) updateInteraction() {
	it := w.live("interactions")
	if it == nil {
		w.createInteraction(chance(w.r, 0.5))
		return
	}
	var kv []any
	if chance(w.r, 0.5) {
		kv = append(kv, "subject", pick(w.r, it.str("subject"), it.str("subject")+"+"))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "type", pick(w.r, it.str("type"), pick(w.r, interactionTypes...)))
	}
	if chance(w.r, 0.2) {
		kv = append(kv, "notes", pick(w.r, "compte rendu", "RAS"))
	}
	a, user, what, changed := w.update("interactions", it, obj(kv...), 200)
	if changed {
		w.c.tally.expect("interaction.updated", q(user), interactionData(a), what)
	}
}

// ------------------------------------------------------------ batches

// element is the answer of a batch's record: one element of the array the
// CRM answered.
func element(e gjson.Result) answer {
	a := answer{status: 200, body: e}
	_ = json.Unmarshal([]byte(e.Raw), &a.doc)
	return a
}

// some returns 1 to most distinct live records of kind (fewer if there are
// fewer), in a random order, and often one more created straight on the
// CRM first, so that the proxy has never seen it (a batch's records are
// prefetched one by one).
func (w *crmWorker) some(kind string, most int, create func(direct bool)) []*record {
	if chance(w.r, 0.35) || len(w.recs[kind]) == 0 {
		create(true)
	}
	rs := w.recs[kind]
	if len(rs) == 0 {
		return nil
	}
	n := 1 + w.r.IntN(most)
	var out []*record
	if fresh := rs[len(rs)-1]; chance(w.r, 0.5) {
		out = append(out, fresh) // the newest, perhaps never seen
	}
	for _, i := range w.r.Perm(len(rs)) {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, rs[i]) {
			out = append(out, rs[i])
		}
	}
	w.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// countDirect counts the records of rs created straight on the CRM.
func (w *crmWorker) countDirect(rs []*record) int {
	n := 0
	for _, r := range rs {
		if w.direct[r] {
			n++
		}
	}
	return n
}

func (tl *tally) noteBatch(kind string, records, direct int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.batches == nil {
		tl.batches = map[string][3]int{}
	}
	b := tl.batches[kind]
	tl.batches[kind] = [3]int{b[0] + 1, b[1] + records, b[2] + direct}
}

func (tl *tally) batchSummary() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(tl.batches)) {
		b := tl.batches[k]
		parts = append(parts, fmt.Sprintf("%s %d (%d records, %d of them created straight on the CRM)", k, b[0], b[1], b[2]))
	}
	if parts == nil {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func recIDs(rs []*record) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = strconv.Itoa(r.id)
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// batchCreate POSTs an array of 1 to 5 new people or tasks (through Caddy
// or, when direct, straight to the CRM): one .created per record. One
// batch in eight holds an invalid item: 422, nothing is created.
func (w *crmWorker) batchCreate(kind string, direct bool) {
	n := 1 + w.r.IntN(5)
	items := make([]string, n)
	for i := range items {
		if kind == "people" {
			items[i] = w.personBody()
		} else {
			items[i] = w.taskBody()
		}
	}
	code := 201
	if chance(w.r, 0.125) {
		items[w.r.IntN(n)] = map[string]string{"people": `{"first_name":"Sans nom"}`, "tasks": `{"title":"Sans date"}`}[kind]
		code = 422
	}
	user := w.writer()
	path := "/api/v1/" + kind
	body := "[" + strings.Join(items, ",") + "]"
	what := "POST " + path + " " + body + " as " + user
	a := w.send(direct, user, "POST", path, body)
	w.c.want(a, what, code)
	if a.status != 201 {
		return
	}
	if got := len(a.body.Array()); got != n {
		w.c.t.Errorf("%s: %d records answered, want %d", what, got, n)
	}
	if !direct {
		w.c.tally.noteBatch("POST "+kind, n, 0)
	}
	for _, e := range a.body.Array() {
		el := element(e)
		rec := &record{id: int(e.Get("id").Int()), doc: el.doc}
		w.recs[kind] = append(w.recs[kind], rec)
		w.direct[rec] = direct
		if direct {
			continue
		}
		if kind == "people" {
			w.c.tally.expect("person.created", q(user), personData(el), what)
		} else {
			w.c.tally.expect("task.created", q(user), taskData(el), what)
		}
	}
}

// batchPatch PATCHes {"keys": ids of rs, "data": data} to kind and checks
// the answer's order; on 200 each record's model takes its element, and
// events(old model, element) says what to expect. With unknown (and code
// 200), an unknown id is added: 404, nothing changes.
func (w *crmWorker) batchPatch(kind string, rs []*record, data string, unknown bool, code int, events func(old *record, el answer, user, what string)) {
	keys := recIDs(rs)
	if unknown && code == 200 {
		keys = strings.TrimSuffix(keys, "]") + "," + strconv.Itoa(w.unknownID(kind)) + "]"
		code = 404
	}
	user := w.writer()
	path := "/api/v1/" + kind
	body := `{"keys":` + keys + `,"data":` + data + `}`
	what := "PATCH " + path + " " + body + " as " + user
	a := w.send(false, user, "PATCH", path, body)
	w.c.want(a, what, code)
	if a.status != 200 {
		return
	}
	els := a.body.Array()
	if len(els) != len(rs) {
		w.c.t.Errorf("%s: %d records answered, want %d", what, len(els), len(rs))
		return
	}
	w.c.tally.noteBatch("PATCH "+kind, len(rs), w.countDirect(rs))
	for i, r := range rs {
		el := element(els[i])
		if el.body.Get("id").Int() != int64(r.id) {
			w.c.t.Errorf("%s: record %d answered at %d", what, el.body.Get("id").Int(), i)
			return
		}
		old := &record{id: r.id, doc: r.doc}
		r.doc = el.doc
		events(old, el, user, what)
	}
}

// batchUpdatePeople PATCHes 1 to 4 people (often one the proxy never saw)
// with the same data: person.updated for each whose updated_at moved.
func (w *crmWorker) batchUpdatePeople() {
	rs := w.some("people", 4, w.createPerson)
	if rs == nil {
		return
	}
	var kv []any
	if chance(w.r, 0.5) {
		kv = append(kv, "last_name", pick(w.r, "Dupont", "Martin", "Bernard"))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "role", pick(w.r, "CIO", "Analyste"))
	}
	if chance(w.r, 0.2) {
		var org any
		if o := w.live("organisations"); o != nil && chance(w.r, 0.7) {
			org = o.id
		}
		kv = append(kv, "organisation_id", org)
	}
	code := 200
	if len(rs) > 1 && chance(w.r, 0.1) { // one email for two people
		kv = append(kv, "personal_email", fmt.Sprintf("lot-%d-%d@crm.example", w.g, w.next()))
		code = 409
	}
	w.batchPatch("people", rs, obj(kv...), chance(w.r, 0.08), code, func(old *record, el answer, user, what string) {
		if old.str("updated_at") != el.body.Get("updated_at").String() {
			w.c.tally.expect("person.updated", q(user), personData(el), what)
		}
	})
}

// batchUpdateTasks PATCHes 1 to 5 tasks (often one the proxy never saw)
// with the same status (mostly done): task.completed for each that became
// done.
func (w *crmWorker) batchUpdateTasks() {
	rs := w.some("tasks", 5, w.createTask)
	if rs == nil {
		return
	}
	kv := []any{"status", pick(w.r, "done", "done", "done", "todo", "doing", "snoozed")}
	if chance(w.r, 0.2) {
		kv = append(kv, "priority", pick(w.r, "haute", "basse"))
	}
	code := 200
	if chance(w.r, 0.05) {
		kv[1] = "finished"
		code = 422
	}
	w.batchPatch("tasks", rs, obj(kv...), chance(w.r, 0.08), code, func(old *record, el answer, user, what string) {
		taskEvents(w.c.tally, old.str("status"), user, el, what)
	})
}

// batchDeletePeople DELETEs 1 to 3 people (often one the proxy never saw;
// mostly people that others refer to): person.deleted for each, with the
// name last seen.
func (w *crmWorker) batchDeletePeople() {
	rs := w.some("people", 3, w.createPerson)
	if rs == nil {
		return
	}
	if p := w.linked("people", "interactions", "person_id"); !slices.Contains(rs, p) && len(rs) < 3 {
		rs = append(rs, p)
	}
	user := pick(w.r, admin, admin, admin, sales)
	ids := recIDs(rs)
	code := 204
	switch {
	case user != admin:
		code = 403
	case chance(w.r, 0.08):
		ids = strings.TrimSuffix(ids, "]") + "," + strconv.Itoa(w.unknownID("people")) + "]"
		code = 404
	}
	what := "DELETE /api/v1/people " + ids + " as " + user
	a := w.send(false, user, "DELETE", "/api/v1/people", ids)
	w.c.want(a, what, code)
	if a.status != 204 {
		return
	}
	w.c.tally.noteBatch("DELETE people", len(rs), w.countDirect(rs))
	var touched []*record
	for _, p := range rs {
		w.c.tally.expect("person.deleted", q(user), map[string]any{"person_id": p.id, "first_name": p.str("first_name"), "last_name": p.str("last_name")}, what)
		w.forget("people", p.id)
		touched = append(touched, w.clearRefs("person_id", p.id, "interactions", "tasks")...)
	}
	w.touchAfterCascade("interactions", touched)
}

// ------------------------------------------------------------ reads and refusals

var crmKinds = []string{"organisations", "people", "tasks", "mandats", "interactions"}

// read GETs a record through Caddy and checks the client's model against
// it (the model must be exact for the expectations to be), or an unknown
// one, or a list.
func (w *crmWorker) read() {
	kind := pick(w.r, crmKinds...)
	user := pick(w.r, viewer, sales, admin)
	r := w.live(kind)
	if r == nil || chance(w.r, 0.2) {
		path := idPath(kind, w.unknownID(kind))
		a := w.send(false, user, "GET", path, "")
		w.c.want(a, "GET "+path, 404)
		return
	}
	if chance(w.r, 0.1) {
		a := w.send(false, user, "GET", "/api/v1/"+kind+"?limit=5", "")
		w.c.want(a, "GET list "+kind, 200)
		return
	}
	path := idPath(kind, r.id)
	a := w.send(false, user, "GET", path, "")
	w.c.want(a, "GET "+path, 200)
	if a.status == 200 && !reflect.DeepEqual(a.doc, r.doc) {
		w.c.t.Errorf("model of %s: %s, the CRM says %s", path, jsonText(r.doc), a.body.Raw)
	}
}

// refused sends requests the CRM answers 401, 403, 404, 409 or 422.
func (w *crmWorker) refused() {
	org := w.live("organisations")
	other := w.live("organisations")
	u := w.writer()
	type try struct {
		user, method, path, body string
		code                     int
	}
	tries := []try{
		{"", "POST", "/api/v1/organisations", `{"name":"Sans nom","category":"SDG"}`, 401},
		{inactive, "PUT", idPath("organisations", org.id), `{"name":"Ancien"}`, 401},
		{"999", "DELETE", idPath("organisations", org.id), ``, 401},
		{viewer, "POST", "/api/v1/organisations", `{"name":"Vue","category":"SDG"}`, 403},
		{viewer, "PUT", idPath("organisations", org.id), `{"notes":"x"}`, 403},
		{u, "PUT", idPath("organisations", w.unknownID("organisations")), `{"notes":"x"}`, 404},
		{admin, "DELETE", idPath("people", w.unknownID("people")), ``, 404},
		{u, "POST", "/api/v1/organisations", obj("name", strings.ToUpper(org.str("name")), "category", "SDG"), 409},
		{u, "POST", "/api/v1/organisations", `{"name":"  ","category":"SDG"}`, 422},
		{u, "POST", "/api/v1/organisations", `{"name":"X","category":"Banque"}`, 422},
		{u, "POST", "/api/v1/organisations", `{"name":"X","category":"SDG","foo":1}`, 422},
		{u, "POST", "/api/v1/organisations", `{"name":"X","category":"SDG","aum":-1}`, 422},
		{u, "PUT", idPath("organisations", org.id), `{"category":"Banque"}`, 422},
		{u, "POST", "/api/v1/people", `{"first_name":"Sans"}`, 422},
		{u, "POST", "/api/v1/people", `{"first_name":"A","last_name":"B","organisation_id":999999}`, 422},
		{u, "POST", "/api/v1/tasks", `{"title":"Sans date"}`, 422},
		{u, "POST", "/api/v1/tasks", `{"title":"T","due_date":"2026-12-01","completed_at":"2026-12-01T00:00:00"}`, 422},
		{u, "POST", "/api/v1/tasks", `{"title":"T","due_date":"2026-13-01"}`, 422},
		{u, "POST", "/api/v1/tasks/" + strconv.Itoa(w.unknownID("tasks")) + "/quick-action", `{"action":"mark_done"}`, 404},
		{u, "POST", "/api/v1/mandats", obj("organisation_id", org.id, "status", "signe"), 422},
		{u, "POST", "/api/v1/mandats", `{"organisation_id":999999}`, 422},
		{u, "POST", "/api/v1/interactions/organisation/" + strconv.Itoa(w.unknownID("organisations")), `{"type":"call","subject":"X"}`, 404},
		{u, "POST", "/api/v1/interactions/organisation/" + strconv.Itoa(org.id), `{"type":"fax","subject":"X"}`, 422},
		{u, "POST", "/api/v1/organisations", `{"name":`, 422},
	}
	if org != other {
		tries = append(tries, try{u, "PUT", idPath("organisations", org.id), obj("name", strings.ToLower(other.str("name"))), 409})
	}
	if p := w.live("people"); p != nil {
		tries = append(tries, try{u, "PUT", idPath("people", p.id), `{"last_name":""}`, 422})
		if p2 := w.live("people"); p2 != p && p2.doc["personal_email"] != nil {
			tries = append(tries, try{u, "PUT", idPath("people", p.id), obj("personal_email", strings.ToUpper(p2.str("personal_email"))), 409})
		}
	}
	tries = append(tries,
		try{viewer, "POST", "/api/v1/tasks", `[{"title":"T","due_date":"2026-12-01"}]`, 403},
		try{u, "POST", "/api/v1/people", `[]`, 422},
		try{u, "POST", "/api/v1/tasks", `[{"title":"T","due_date":"2026-12-01"},"T"]`, 422},
		try{u, "PATCH", "/api/v1/people", `{"keys":[],"data":{"role":"CIO"}}`, 422},
		try{u, "PATCH", "/api/v1/tasks", `{"data":{"status":"done"}}`, 422},
	)
	if p := w.live("people"); p != nil {
		ids := "[" + strconv.Itoa(p.id) + "]"
		tries = append(tries,
			try{sales, "DELETE", "/api/v1/people", ids, 403},
			try{admin, "DELETE", "/api/v1/people", "[" + strconv.Itoa(p.id) + "," + strconv.Itoa(p.id) + "]", 422},
			try{u, "PATCH", "/api/v1/people", `{"keys":` + ids + `,"data":{"first_name":""}}`, 422},
		)
	}
	if t := w.live("tasks"); t != nil {
		tries = append(tries, try{u, "PATCH", "/api/v1/tasks", `{"keys":[` + strconv.Itoa(t.id) + `,` + strconv.Itoa(w.unknownID("tasks")) + `],"data":{"status":"done"}}`, 404})
		tries = append(tries, try{u, "PUT", idPath("tasks", t.id), `{"status":"finished"}`, 422})
		tries = append(tries, try{u, "POST", idPath("tasks", t.id) + "/quick-action", `{"action":"explode"}`, 422})
		tries = append(tries, try{viewer, "POST", idPath("tasks", t.id) + "/quick-action", `{"action":"mark_done"}`, 403})
	}
	if m := w.live("mandats"); m != nil {
		tries = append(tries, try{u, "PUT", idPath("mandats", m.id), `{"status":"SIGNÉ"}`, 422})
		tries = append(tries, try{inactive, "PUT", idPath("mandats", m.id), `{"status":"signé"}`, 401})
	}
	if it := w.live("interactions"); it != nil {
		tries = append(tries, try{u, "PUT", idPath("interactions", it.id), `{"organisation_id":1}`, 422})
	}
	tr := pick(w.r, tries...)
	a := w.send(false, tr.user, tr.method, tr.path, tr.body)
	w.c.want(a, fmt.Sprintf("%s %s %s as %q", tr.method, tr.path, tr.body, tr.user), tr.code)
}

// ---------------------------------------------------------------- CRM bursts

// crmBurstDone marks a task the proxy never saw done with n concurrent
// quick actions: exactly one task.completed.
func crmBurstDone(c *caller, r *rand.Rand, proxy, app string, n int) {
	w := &crmWorker{g: 93, r: r, c: c, proxy: proxy, app: app}
	w.init()
	w.createTask(true)
	t := w.live("tasks")
	if t == nil {
		return
	}
	if t.str("status") == "done" {
		a := w.send(false, sales, "PUT", idPath("tasks", t.id), `{"status":"todo"}`)
		c.want(a, "reopen the burst's task", 200)
		t.doc = a.doc
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.send(false, sales, "POST", idPath("tasks", t.id)+"/quick-action", `{"action":"mark_done"}`)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != 200 || a.body.Get("completed_at").Raw != answers[0].body.Get("completed_at").Raw {
			c.t.Errorf("burst of mark_done: answer %d %s", a.status, a.body.Raw)
			return
		}
	}
	taskEvents(c.tally, t.str("status"), sales, answers[0], fmt.Sprintf("%d concurrent POST /api/v1/tasks/%d/quick-action mark_done", n, t.id))
}

// crmBurstSign signs a mandat with n concurrent identical PUTs: exactly
// one mandat.updated and one mandat.signed.
func crmBurstSign(c *caller, r *rand.Rand, proxy string, n int) {
	w := &crmWorker{g: 94, r: r, c: c, proxy: proxy}
	w.init()
	w.createOrg(false)
	if w.live("organisations") == nil {
		return
	}
	for range 10 {
		if m := w.live("mandats"); m != nil && m.str("status") != "signé" {
			break
		}
		w.recs["mandats"] = nil // one created signé: take another
		w.createMandat(false)
	}
	m := w.live("mandats")
	if m == nil || m.str("status") == "signé" {
		return
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.send(false, sales, "PUT", idPath("mandats", m.id), `{"status":"signé"}`)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != 200 || a.body.Get("updated_at").Raw != answers[0].body.Get("updated_at").Raw {
			c.t.Errorf("burst of signatures: answer %d %s", a.status, a.body.Raw)
			return
		}
	}
	mandatEvents(c.tally, m.str("status"), true, sales, answers[0], fmt.Sprintf(`%d concurrent PUT /api/v1/mandats/%d {"status":"signé"}`, n, m.id))
}

// crmBurstBatch completes four new tasks (two created straight on the CRM,
// never seen by the proxy) with n concurrent batch PATCHes
// {"status":"done"} of overlapping sets of them, in random orders: exactly
// one task.completed per task, with the completed_at every answer shows.
func crmBurstBatch(c *caller, r *rand.Rand, proxy, app string, n int) {
	w := &crmWorker{g: 95, r: r, c: c, proxy: proxy, app: app}
	w.init()
	for i := range 4 {
		w.create(i%2 == 1, "tasks", "/api/v1/tasks", obj("title", fmt.Sprintf("Lot %d", i), "due_date", "2026-12-01"), func(user string, a answer, what string) {
			c.tally.expect("task.created", q(user), taskData(a), what)
		})
	}
	tasks := w.recs["tasks"]
	if len(tasks) != 4 {
		return
	}
	bodies := make([]string, n)
	for i := range bodies {
		var rs []*record
		for _, j := range r.Perm(len(tasks))[:2+r.IntN(len(tasks)-1)] {
			rs = append(rs, tasks[j])
		}
		bodies[i] = `{"keys":` + recIDs(rs) + `,"data":{"status":"done"}}`
		c.tally.noteBatch("PATCH tasks (burst)", len(rs), w.countDirect(rs))
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.send(false, sales, "PATCH", "/api/v1/tasks", bodies[i])
		}()
	}
	wg.Wait()
	done := map[int64]gjson.Result{}
	for i, a := range answers {
		if a.status != 200 {
			c.t.Errorf("burst of batch PATCHes: %s answered %d %s", bodies[i], a.status, a.body.Raw)
			return
		}
		for _, el := range a.body.Array() {
			id := el.Get("id").Int()
			if prev, ok := done[id]; el.Get("status").String() != "done" || (ok && prev.Get("completed_at").Raw != el.Get("completed_at").Raw) {
				c.t.Errorf("burst of batch PATCHes: task %d answered %s, and %s", id, el.Raw, prev.Raw)
				return
			}
			done[id] = el
		}
	}
	what := fmt.Sprintf("%d concurrent PATCH /api/v1/tasks %s", n, strings.Join(bodies, " "))
	for _, el := range done {
		taskEvents(c.tally, "todo", sales, element(el), what)
	}
}
