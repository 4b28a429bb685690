package learn

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxDataFields bounds the fields a proposed event copies from a document:
// past it the rule says how many it left out.
const maxDataFields = 30

// proposal is one rule of the proposed file.
type proposal struct {
	comment     []string // paragraphs
	name        string   // "" for a rule that only keeps state
	description string
	methods     []string
	path        string
	statuses    []int
	each        *eachOut
	state       *stateOut
	when        string
	data        []dataField
	redact      []string
}

type eachOut struct{ source, response, by string }

type stateOut struct {
	key            string
	snapshot       string // "" for the default
	snapshotRedact []string
	prefetch       string
	selectPath     string
}

type dataField struct{ key, source string }

// proposer builds the rules of one resource.
type proposer struct {
	rv     *resView
	idKey  string // orderId, order_id
	redact []string
}

// propose lists the rules of a resource, in the order of the file:
// created, updated, deleted, the state changes, then the read.
func propose(rv *resView) []proposal {
	p := &proposer{rv: rv, idKey: rv.style.join(rv.name, "id")}
	for _, s := range rv.secrets {
		p.redact = append(p.redact, "*."+s)
	}
	var out []proposal
	for _, ref := range p.routes(roleCreate) {
		out = append(out, p.created(ref))
	}
	for _, g := range p.grouped(roleUpdate) {
		out = append(out, p.updated(g))
	}
	for _, ref := range p.routes(roleBatchUpdate) {
		out = append(out, p.batchUpdated(ref))
	}
	for _, ref := range p.routes(roleDelete) {
		out = append(out, p.deleted(ref))
	}
	for _, ref := range p.routes(roleBatchDelete) {
		out = append(out, p.batchDeleted(ref))
	}
	for _, s := range rv.states {
		out = append(out, p.changes(s)...)
	}
	if rv.read != nil {
		out = append(out, p.read())
	}
	for _, ref := range p.routes(roleForget) {
		out = append(out, p.forget(ref))
	}
	return out
}

// forget is the rule of a write that changes a resource without showing
// it: it forgets the resource's state, so that the next rule on it fetches
// it as the write left it instead of comparing with a stale snapshot.
func (p *proposer) forget(ref routeRef) proposal {
	pr := proposal{
		methods: []string{ref.r.method}, path: ref.tp.text, statuses: statuses(ref.r),
		state: &stateOut{key: p.keyOf("request.body." + ref.ref), snapshot: "none"},
	}
	n, name := ref.r.touched[p.rv.key+" "+ref.ref], p.rv.name
	pr.comment = append(pr.comment, p.learned(ref)+fmt.Sprintf(
		" Its answer shows no %s, but its request names one (%s, %d %s): it changes the %s behind the rules' back. "+
			"No name: it forgets the %s's state, so that the next rule on it fetches it as this request left it.",
		name, ref.ref, n, times(n), name, name))
	return pr
}

func (p *proposer) routes(ro role) []routeRef {
	var out []routeRef
	for _, ref := range p.rv.routes {
		if ref.role == ro {
			out = append(out, ref)
		}
	}
	return out
}

// grouped puts together the routes of a role that share a template,
// statuses and envelope (PUT and PATCH of /orders/{id}/status): one rule
// matches both methods.
func (p *proposer) grouped(roles ...role) [][]routeRef {
	var groups [][]routeRef
	for _, ref := range p.rv.routes {
		if !slices.Contains(roles, ref.role) {
			continue
		}
		i := slices.IndexFunc(groups, func(g []routeRef) bool {
			return g[0].tp == ref.tp && g[0].role == ref.role &&
				slices.Equal(statuses(g[0].r), statuses(ref.r)) &&
				g[0].r.resp.envelopeKey() == ref.r.resp.envelopeKey()
		})
		if i < 0 {
			groups = append(groups, []routeRef{ref})
			continue
		}
		groups[i] = append(groups[i], ref)
	}
	return groups
}

// statuses are a route's 2xx statuses, in order.
func statuses(r *route) []int {
	out := make([]int, 0, len(r.success))
	for code := range r.success {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

func methodsOf(g []routeRef) []string {
	out := make([]string, len(g))
	for i, ref := range g {
		out[i] = ref.r.method
	}
	return out
}

// docSource is where a route's answer holds the document: response.body,
// or inside its envelope.
func docSource(r *route) string {
	if env := r.resp.envelopeKey(); env != "" && isSimpleName(env) {
		return "response.body." + env
	}
	return "response.body"
}

// snapshotOf is the snapshot of a rule on a route: the document (not the
// envelope), without its secrets; "" when that is the default.
func (p *proposer) snapshotOf(r *route) string {
	if src := docSource(r); src != "response.body" {
		return src
	}
	return ""
}

// keyOf is the state key of a resource id given as a template source.
func (p *proposer) keyOf(src string) string {
	return p.rv.name + ":{" + src + "}"
}

// prefetchOf asks the read route for one document, its id given by src
// (path.id, item). With no read route seen, it asks the item route, as
// REST apps answer a GET there: a wrong guess only fails the prefetch
// (previous null, logged), where no prefetch would leave previous null
// for every resource the proxy never saw. "" when there is no item route.
func (p *proposer) prefetchOf(src string) (string, string) {
	if p.rv.read == nil {
		if strings.HasPrefix(p.rv.key, "?") {
			return "", ""
		}
		return "GET " + joinSegs(p.paramSegs(strings.Split(strings.TrimPrefix(p.rv.key, "/"), "/"), src)), ""
	}
	segs := p.paramSegs(slices.Clone(p.rv.read.tp.segs), src)
	sel := p.rv.read.r.resp.envelopeKey()
	if !isSimpleName(sel) {
		sel = ""
	}
	return "GET " + joinSegs(segs), sel
}

// paramSegs puts src in the last {param} of a template's segments, and
// path.<param> in the others.
func (p *proposer) paramSegs(segs []string, src string) []string {
	last := lastParam(segs)
	for i, s := range segs {
		switch {
		case i == last:
			segs[i] = "{" + src + "}"
		case isParam(s):
			segs[i] = "{path." + s[1:len(s)-1] + "}"
		}
	}
	return segs
}

// itemState is the state of a rule on one document given by src.
func (p *proposer) itemState(src string, r *route) *stateOut {
	st := &stateOut{key: p.keyOf(src)}
	if r != nil {
		st.snapshot = p.snapshotOf(r)
	}
	st.prefetch, st.selectPath = p.prefetchOf(src)
	return st
}

// document lists data fields copying a document's fields from src (the id
// first, as idKey), secrets left out, at most maxDataFields.
func (p *proposer) document(src string, fields []string) ([]dataField, int) {
	data := []dataField{{p.idKey, src + "." + p.rv.idField}}
	left := 0
	for _, f := range fields {
		if f == p.rv.idField || f == p.idKey || !isSimpleName(f) || isSecretName(f) {
			continue
		}
		if len(data) > maxDataFields {
			left++
			continue
		}
		data = append(data, dataField{f, src + "." + f})
	}
	return data, left
}

func (p *proposer) created(ref routeRef) proposal {
	r := ref.r
	src := docSource(r)
	pr := proposal{
		name: p.rv.name + ".created", description: p.sentence("was created"),
		methods: []string{r.method}, path: ref.tp.text, statuses: statuses(r),
		redact: p.redact,
	}
	// Always per item: an object answer is one item, and an app whose
	// admin screens create several at once (an array) then gives one
	// event each, batch seen or not.
	pr.each = &eachOut{source: src}
	pr.state = &stateOut{key: p.keyOf("item." + p.rv.idField)}
	var left int
	pr.data, left = p.document("item", r.resp.topFields())
	pr.comment = append(pr.comment, p.learned(ref)+" "+p.answerNote(r, left))
	if r.resp.arrays > 0 {
		pr.comment = append(pr.comment, fmt.Sprintf("The answer was an array (a batch) %d %s: each gives one event per %s.",
			r.resp.arrays, times(r.resp.arrays), p.rv.name))
	} else {
		pr.comment = append(pr.comment, fmt.Sprintf("each: the answer is one item; a batch create (an array) would give one event per %s.", p.rv.name))
	}
	return pr
}

func (p *proposer) updated(g []routeRef) proposal {
	ref := g[0]
	r := ref.r
	pr := proposal{
		name: p.rv.name + ".updated", description: p.sentence("was updated"),
		methods: methodsOf(g), path: ref.tp.text, statuses: statuses(r), redact: p.redact,
	}
	pathID := "path." + p.rv.param
	if r.resp.bodies == 0 {
		// No document in the answer: what was sent is the change, and the
		// snapshot is forgotten so that the next request fetches it anew.
		pr.state = &stateOut{key: p.keyOf(pathID), snapshot: "none"}
		pr.data = []dataField{{p.idKey, pathID}, {"changes", "request.body"}}
		pr.comment = append(pr.comment, p.learnedAll(g)+" The answer had no body: the event carries what was sent.")
		return pr
	}
	src := docSource(r)
	pr.state = p.itemState(pathID, r)
	var left int
	pr.data, left = p.document(src, r.resp.topFields())
	var why string
	pr.when, why = p.changedWhen(src)
	pr.comment = append(pr.comment, p.learnedAll(g)+" "+p.answerNote(r, left)+" "+why)
	return pr
}

// changedWhen is the condition of an update, the last-modified field
// moved, when the resource has one; and why.
func (p *proposer) changedWhen(src string) (string, string) {
	lm := p.rv.lastMod
	if lm == nil {
		return "", "No last-modified field was found (one that moves when other fields change, and only then), " +
			"so every successful request fires."
	}
	why := fmt.Sprintf("%s moved with the other fields %d %s", lm.name, lm.moved, times(lm.moved))
	if lm.moved == 0 {
		why = fmt.Sprintf("%s is named as a last-modified field (no change was seen to move it)", lm.name)
	}
	if lm.kept > 0 {
		why += fmt.Sprintf(" and stayed the same on %d %s that changed nothing: a write that changes nothing emits nothing.",
			lm.kept, plural(lm.kept, "write", "writes"))
	} else {
		why += "; no write that changed nothing was seen, so the when may be true on every write."
	}
	return fmt.Sprintf("previous.%s != %s.%s", lm.name, src, lm.name), why
}

func (p *proposer) batchUpdated(ref routeRef) proposal {
	r := ref.r
	keys := batchKeys(r)
	src := docSource(r)
	pr := proposal{
		name: p.rv.name + ".updated", description: p.sentence("was updated"),
		methods: []string{r.method}, path: ref.tp.text, statuses: statuses(r), redact: p.redact,
		each:  &eachOut{source: "request.body." + keys, response: src, by: p.rv.idField},
		state: p.itemState("item", nil),
	}
	var left int
	pr.data, left = p.document("response.item", r.resp.topFields())
	when, why := p.changedWhen("response.item")
	pr.when = when
	pr.comment = append(pr.comment, p.learned(ref)+fmt.Sprintf(
		" A batch: the ids are the request's %s, each %s of the answer is paired with its id.", keys, p.rv.name)+
		" "+p.answerNote(r, left)+" "+why)
	return pr
}

func (p *proposer) deleted(ref routeRef) proposal {
	pr := proposal{
		name: p.rv.name + ".deleted", description: p.sentence("was deleted"),
		methods: []string{ref.r.method}, path: ref.tp.text, statuses: statuses(ref.r), redact: p.redact,
		state: p.itemState("path."+p.rv.param, nil),
	}
	pr.state.snapshot = "none"
	var left int
	pr.data, left = p.document("previous", p.rv.fields)
	pr.comment = append(pr.comment, p.learned(ref)+" "+p.previousNote(left))
	return pr
}

func (p *proposer) batchDeleted(ref routeRef) proposal {
	pr := proposal{
		name: p.rv.name + ".deleted", description: p.sentence("was deleted"),
		methods: []string{ref.r.method}, path: ref.tp.text, statuses: statuses(ref.r), redact: p.redact,
		each: &eachOut{source: "request.body"}, state: p.itemState("item", nil),
	}
	pr.state.snapshot = "none"
	var left int
	pr.data, left = p.document("previous", p.rv.fields)
	pr.data[0].source = "item"
	pr.comment = append(pr.comment, p.learned(ref)+" A batch: the request is the list of ids. "+p.previousNote(left))
	return pr
}

// previousNote says where a delete's data comes from.
func (p *proposer) previousNote(left int) string {
	s := fmt.Sprintf("The %s is gone: its fields come from previous, the state remembered", p.rv.name)
	if p.rv.read != nil {
		s += " or fetched just before (prefetch)"
	}
	s += ", and the state is forgotten (snapshot: none)."
	if left > 0 {
		s += fmt.Sprintf(" %d more fields left out.", left)
	}
	return s
}

// changes lists the <field>_changed rules of a state field: one per write
// route that answers with the document and was seen changing the field.
func (p *proposer) changes(s *docStat) []proposal {
	var out []proposal
	for _, g := range p.grouped(roleUpdate, roleAction) {
		if g[0].r.resp.bodies > 0 && slices.ContainsFunc(g, func(ref routeRef) bool { return p.changesField(ref.r, s.name) }) {
			out = append(out, p.changed(s, g, docSource(g[0].r), "path."+p.rv.param))
		}
	}
	for _, ref := range p.routes(roleBatchUpdate) {
		if p.changesField(ref.r, s.name) {
			out = append(out, p.changed(s, []routeRef{ref}, "response.item", "item"))
		}
	}
	return out
}

// changesField reports whether a route changes a field itself: its
// answers showed the field changed, and its requests either name the field
// (PUT {"status": …}) or name none of the document's fields (an action,
// {"action": "mark_done"}). A route that sends other fields and answers
// with a field changed behind the proxy's back (a payment recorded by
// another route the proxy cannot see the result of) does not.
func (p *proposer) changesField(r *route, field string) bool {
	if r.changed[field] == 0 {
		return false
	}
	shares := false
	for _, f := range r.req.fields {
		leaf := leafName(f.path)
		if leaf == field {
			return true
		}
		shares = shares || leaf != p.rv.idField && slices.Contains(p.rv.fields, leaf)
	}
	return !shares
}

func (p *proposer) changed(s *docStat, g []routeRef, src, idSrc string) proposal {
	ref := g[0]
	old, nw := p.rv.style.join("old", s.name), p.rv.style.join("new", s.name)
	pr := proposal{
		name:        p.rv.name + "." + eventWord(s.name) + "_changed",
		description: p.possessive(s.name),
		methods:     methodsOf(g), path: ref.tp.text, statuses: statuses(ref.r), redact: p.redact,
		when: fmt.Sprintf("previous.%s != %s.%s", s.name, src, s.name),
		data: []dataField{{p.idKey, src + "." + p.rv.idField}, {old, "previous." + s.name}, {nw, src + "." + s.name}},
	}
	if idSrc == "item" {
		pr.each = &eachOut{source: "request.body." + batchKeys(ref.r), response: docSource(ref.r), by: p.rv.idField}
		pr.state = p.itemState("item", nil)
	} else {
		pr.state = p.itemState(idSrc, ref.r)
	}
	pr.comment = append(pr.comment, p.learnedAll(g)+" "+p.stateNote(s))
	return pr
}

// stateNote says why a field is state-like.
func (p *proposer) stateNote(s *docStat) string {
	vals := make([]string, 0, len(s.values))
	for v := range s.values {
		vals = append(vals, v)
	}
	slices.SortFunc(vals, func(a, b string) int {
		if d := s.values[b] - s.values[a]; d != 0 {
			return int(d)
		}
		return strings.Compare(a, b)
	})
	return fmt.Sprintf("%s is state-like: values %s; it changed %d times on %d %s. "+
		"The old value is previous (the state remembered, or fetched first).",
		s.name, strings.Join(vals, ", "), s.changes, s.movedOn, p.plural(s.movedOn))
}

func (p *proposer) read() proposal {
	ref := p.rv.read
	st := &stateOut{key: p.keyOf("path." + p.rv.param), snapshot: p.snapshotOf(ref.r)}
	if len(p.redact) > 0 {
		st.snapshotRedact = p.redact
		if st.snapshot == "" {
			st.snapshot = "response.body"
		}
	}
	pr := proposal{
		methods: []string{ref.r.method}, path: ref.tp.text, statuses: statuses(ref.r), state: st,
	}
	pr.comment = append(pr.comment, p.learned(*ref)+fmt.Sprintf(
		" No name: it emits nothing, it keeps the state of each %s the app shows, so that the rules above compare with what the app last showed.",
		p.rv.name))
	return pr
}

// sentence is "An order was created".
func (p *proposer) sentence(what string) string {
	name := strings.ReplaceAll(p.rv.name, "_", " ")
	a := article(name)
	return strings.ToUpper(a[:1]) + a[1:] + " " + name + " " + what
}

// possessive is "An order's status changed".
func (p *proposer) possessive(field string) string {
	name := strings.ReplaceAll(p.rv.name, "_", " ")
	a := article(name)
	return strings.ToUpper(a[:1]) + a[1:] + " " + name + "'s " + field + " changed"
}

func (p *proposer) plural(n int64) string {
	if n == 1 {
		return p.rv.name
	}
	return p.rv.collection
}

// learned says what a rule was learned from: "POST /api/orders: 201 ×6;
// also 4xx ×3."
func (p *proposer) learned(ref routeRef) string {
	return "Learned from " + routeLine(ref) + "."
}

func (p *proposer) learnedAll(g []routeRef) string {
	parts := make([]string, len(g))
	for i, ref := range g {
		parts[i] = routeLine(ref)
	}
	return "Learned from " + strings.Join(parts, "; ") + "."
}

// routeLine is "POST /api/orders -> 201 (6 times; 4xx: 3)".
func routeLine(ref routeRef) string {
	r := ref.r
	codes := make([]string, 0, len(r.success))
	for _, code := range statuses(r) {
		codes = append(codes, fmt.Sprintf("%d (%d %s)", code, r.success[code], times(r.success[code])))
	}
	s := r.method + " " + ref.tp.text + " -> " + strings.Join(codes, ", ")
	var fails []string
	for class, n := range r.classes {
		switch {
		case n == 0:
		case class == 0:
			fails = append(fails, fmt.Sprintf("other: %d", n))
		default:
			fails = append(fails, fmt.Sprintf("%dxx: %d", class, n))
		}
	}
	if len(fails) > 0 {
		s += ", failures " + strings.Join(fails, ", ")
	}
	return s
}

func times(n int64) string { return plural(n, "time", "times") }

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// answerNote names the document an answer holds, with its fields.
func (p *proposer) answerNote(r *route, left int) string {
	fields := r.resp.topFields()
	s := "The answer is the " + p.rv.name
	if env := r.resp.envelopeKey(); env != "" {
		s += " in an envelope (" + env + ")"
	}
	s += ": " + strings.Join(firstN(fields, 12), ", ")
	if len(fields) > 12 {
		s += ", …"
	}
	s += "."
	if len(p.rv.secrets) > 0 {
		s += " Secret-like fields are left out and redacted: " + strings.Join(p.rv.secrets, ", ") + "."
	}
	if left > 0 {
		s += " " + strconv.Itoa(left) + " more fields left out."
	}
	return s
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
