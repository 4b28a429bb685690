package learn

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// role is what a route does to its resource.
type role string

const (
	roleCreate      role = "create"       // POST on the collection (or under a parent): new documents
	roleRead        role = "read"         // GET of one document
	roleUpdate      role = "update"       // PUT or PATCH of one document
	roleDelete      role = "delete"       // DELETE of one document
	roleAction      role = "action"       // another write answered with the document (/orders/{id}/status)
	roleBatchUpdate role = "batch_update" // PATCH of the collection: {"keys": [...], "data": {...}}
	roleBatchDelete role = "batch_delete" // DELETE of the collection with [ids]
	roleForget      role = "forget"       // a write that changes it without showing it (a payment callback)
)

// routeRef is a route in its template, with its role.
type routeRef struct {
	tp   *template
	r    *route
	role role
	ref  string // roleForget: the request path naming the resource's id
}

// resView is a resource as the proposal sees it: its routes by role and
// what its documents showed.
type resView struct {
	key        string // item template (/api/orders/{id}), or "?"+collection when none was seen
	collection string // orders
	name       string // order: the event names' first part
	param      string // the item template's id param: id
	res        *resource
	routes     []routeRef
	idField    string
	read       *routeRef
	style      style
	fields     []string // documents' top-level fields, first seen first
	secrets    []string
	states     []*docStat
	lastMod    *docStat
}

// note is a write that no proposed rule covers, and why.
type note struct {
	method, path, why string
}

// view is the model read as resources.
type view struct {
	resources []*resView
	roles     map[*route]*resView
	notes     []note
}

// analyzer builds a view; the model's lock is held.
type analyzer struct {
	m       *Model
	byKey   map[string]*resView
	orphans []routeRef // creates under another resource: placed last
	notes   []note
}

func (m *Model) analyze() *view {
	a := &analyzer{m: m, byKey: map[string]*resView{}}
	for _, tp := range m.sortedTemplates() {
		if !proposable(tp.segs) {
			continue
		}
		for _, r := range tp.sortedRoutes() {
			if len(r.success) > 0 {
				a.classify(tp, r)
			}
		}
	}
	a.placeOrphans()
	v := &view{roles: map[*route]*resView{}}
	for _, rv := range a.byKey {
		if a.finish(rv) {
			v.resources = append(v.resources, rv)
		}
	}
	slices.SortFunc(v.resources, func(x, y *resView) int { return cmp.Compare(x.key, y.key) })
	nameResources(v.resources)
	for _, rv := range v.resources {
		for _, ref := range rv.routes {
			v.roles[ref.r] = rv
		}
	}
	slices.SortFunc(a.notes, func(x, y note) int {
		return cmp.Or(cmp.Compare(x.path, y.path), cmp.Compare(x.method, y.method), cmp.Compare(x.why, y.why))
	})
	v.notes = a.notes
	return v
}

func (m *Model) sortedTemplates() []*template {
	out := make([]*template, 0, len(m.templates))
	for _, tp := range m.templates {
		out = append(out, tp)
	}
	slices.SortFunc(out, func(x, y *template) int { return cmp.Compare(x.text, y.text) })
	return out
}

func (tp *template) sortedRoutes() []*route {
	out := make([]*route, 0, len(tp.routes))
	for _, method := range append(knownMethods[:len(knownMethods):len(knownMethods)], "OTHER") {
		if r := tp.routes[method]; r != nil {
			out = append(out, r)
		}
	}
	return out
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
}

// classify gives a route a role on a resource, or a note.
func (a *analyzer) classify(tp *template, r *route) {
	segs := tp.segs
	last := lastParam(segs)
	switch {
	case last >= 0 && last == len(segs)-1:
		a.itemRoute(tp, r)
	case last >= 0 && r.pathMatch > 0 && isWrite(r.method):
		a.add(joinSegs(segs[:last+1]), routeRef{tp: tp, r: r, role: roleAction})
	case len(segs) > 0 && segs[len(segs)-1] != "":
		a.collectionRoute(tp, r)
	}
}

// itemRoute classifies a route ending with an id.
func (a *analyzer) itemRoute(tp *template, r *route) {
	switch r.method {
	case http.MethodGet:
		if r.pathMatch > 0 {
			a.add(tp.text, routeRef{tp: tp, r: r, role: roleRead})
		}
	case http.MethodPut, http.MethodPatch:
		if r.pathMatch > 0 || r.resp.bodies == 0 {
			a.add(tp.text, routeRef{tp: tp, r: r, role: roleUpdate})
			return
		}
		a.unshown(tp, r, "the answer is not the document of the path's id")
	case http.MethodDelete:
		a.add(tp.text, routeRef{tp: tp, r: r, role: roleDelete})
	case http.MethodPost:
		switch {
		case r.pathMatch > 0:
			a.add(tp.text, routeRef{tp: tp, r: r, role: roleAction})
		case len(r.primary) > 0:
			a.orphans = append(a.orphans, routeRef{tp: tp, r: r, role: roleCreate})
		default:
			a.unshown(tp, r, "the answer names no resource (no id field)")
		}
	}
}

// collectionRoute classifies a route ending with a literal: creates and
// batches of the collection it names.
func (a *analyzer) collectionRoute(tp *template, r *route) {
	params := 0
	for _, s := range tp.segs {
		if isParam(s) {
			params++
		}
	}
	key := tp.text + "/{" + paramName(params) + "}"
	switch {
	case r.method == http.MethodPost && len(r.primary) > 0 && !isQueryVerb(tp.segs[len(tp.segs)-1]) && r.known*2 < r.docs:
		a.add(key, routeRef{tp: tp, r: r, role: roleCreate})
	case (r.method == http.MethodPatch || r.method == http.MethodPut) && r.resp.arrays > 0 &&
		len(r.primary) > 0 && batchKeys(r) != "":
		a.add(key, routeRef{tp: tp, r: r, role: roleBatchUpdate})
	case r.method == http.MethodDelete && r.req.arrays > 0 && r.req.scalarArray("[]"):
		a.add(key, routeRef{tp: tp, r: r, role: roleBatchDelete})
	case isWrite(r.method) && len(r.primary) > 0:
		a.note(tp, r, "its answers show documents, but neither new ones (a create) nor a batch update: a search?")
	case isWrite(r.method):
		a.unshown(tp, r, "the answer names no resource (no id field)")
	}
}

// isQueryVerb reports whether a collection route's last segment names a
// query, not a collection: POST /orders/search answers orders, it creates
// none.
func isQueryVerb(seg string) bool {
	switch strings.ToLower(seg) {
	case "search", "query", "find", "filter", "lookup", "count", "export", "validate", "preview", "_search", "graphql":
		return true
	}
	return false
}

// unshown handles a write whose answer shows no resource: when its
// requests named tracked resources, it forgets their state; else it is a
// note.
func (a *analyzer) unshown(tp *template, r *route, why string) {
	if len(r.touched) == 0 {
		a.note(tp, r, why)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(r.touched)) {
		key, path, _ := strings.Cut(k, " ")
		a.add(key, routeRef{tp: tp, r: r, role: roleForget, ref: path})
	}
}

// batchKeys is the request field holding the ids of a batch update
// ({"keys": [1, 2], "data": {...}}), or "".
func batchKeys(r *route) string {
	if r.req.objects == 0 {
		return ""
	}
	found := ""
	for _, f := range r.req.fields {
		if f.depth != 0 || f.types != tArray || !r.req.scalarArray(f.path+"[]") {
			continue
		}
		switch f.path {
		case "keys", "ids":
			return f.path
		}
		if found == "" {
			found = f.path
		}
	}
	return found
}

func (a *analyzer) add(key string, ref routeRef) {
	rv := a.byKey[key]
	if rv == nil {
		rv = &resView{key: key}
		a.byKey[key] = rv
	}
	rv.routes = append(rv.routes, ref)
}

func (a *analyzer) note(tp *template, r *route, why string) {
	a.notes = append(a.notes, note{method: r.method, path: tp.text, why: why})
}

// placeOrphans gives each create under another resource
// (POST /interactions/organisation/{id} answering an interaction) to the
// resource whose documents have the most fields in common with its
// answer, else to the collection its path names first.
func (a *analyzer) placeOrphans() {
	for _, ref := range a.orphans {
		fields := ref.r.resp.topFields()
		best, bestScore := "", 0.5
		for key := range a.byKey {
			if s := jaccard(fields, a.fieldsOf(key)); s > bestScore || s == bestScore && best != "" && key < best {
				best, bestScore = key, s
			}
		}
		if best == "" {
			coll := firstCollection(ref.tp.segs)
			if coll == "" {
				a.note(ref.tp, ref.r, "no collection to give its documents to")
				continue
			}
			best = a.keyOfCollection(coll)
		}
		a.add(best, ref)
	}
}

// keyOfCollection is the key of the resource of a collection name, or a
// key for a resource of that name whose item route was not seen.
func (a *analyzer) keyOfCollection(coll string) string {
	keys := make([]string, 0, len(a.byKey))
	for key := range a.byKey {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if collectionOf(key) == coll {
			return key
		}
	}
	return "?" + coll
}

// collectionOf is the literal before an item template's last id.
func collectionOf(key string) string {
	if key != "" && key[0] == '?' {
		return key[1:]
	}
	segs := splitTemplate(key)
	last := lastParam(segs)
	if last < 1 || isParam(segs[last-1]) {
		return ""
	}
	return segs[last-1]
}

func splitTemplate(t string) []string {
	var segs []string
	start := 1
	for i := 1; i <= len(t); i++ {
		if i == len(t) || t[i] == '/' {
			segs = append(segs, t[start:i])
			start = i + 1
		}
	}
	return segs
}

// fieldsOf lists the document fields a resource's routes showed.
func (a *analyzer) fieldsOf(key string) []string {
	if res := a.m.resources[key]; res != nil {
		out := make([]string, len(res.fields))
		for i, f := range res.fields {
			out[i] = f.name
		}
		return out
	}
	var out []string
	if rv := a.byKey[key]; rv != nil {
		for _, ref := range rv.routes {
			for _, f := range ref.r.resp.topFields() {
				if !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// jaccard is |a∩b| / |a∪b| of two name lists (0 when both are empty).
func jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	both := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			both++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}

// finish fills in what a resource's routes and documents say; it is false
// for a resource that cannot be proposed (no name, or no document ever
// seen: a DELETE alone says nothing of what it deletes).
func (a *analyzer) finish(rv *resView) bool {
	rv.collection = collectionOf(rv.key)
	rv.name = eventWord(singular(rv.collection))
	if rv.key[0] != '?' {
		segs := splitTemplate(rv.key)
		rv.param = segs[len(segs)-1]
		rv.param = rv.param[1 : len(rv.param)-1]
	}
	rv.res = a.m.resources[rv.key]
	rv.idField = idFieldOf(rv)
	if rv.name == "" || rv.idField == "" || !isSimpleName(rv.idField) {
		for _, ref := range rv.routes {
			if ref.role != roleRead {
				a.note(ref.tp, ref.r, "no document with an id was seen for "+strconv.Quote(rv.key))
			}
		}
		return false
	}
	for i := range rv.routes {
		ref := &rv.routes[i]
		if ref.role == roleRead && (rv.read == nil || ref.r.pathMatch > rv.read.r.pathMatch) {
			rv.read = ref
		}
	}
	rv.fields = a.fieldsOf(rv.key)
	rv.style = styleOf(rv.fields)
	rv.secrets = secretsOf(rv.routes)
	if rv.res != nil {
		rv.states, rv.lastMod = rv.res.stateFields(rv.idField), rv.res.lastModified()
	}
	return true
}

// idFieldOf is the document id field most routes of the resource showed
// (ties go to the usual names: id, then _id…).
func idFieldOf(rv *resView) string {
	votes := map[string]int64{}
	for _, ref := range rv.routes {
		for name, n := range ref.r.primary {
			votes[name] += n
		}
	}
	rank := func(name string) int {
		if i := slices.Index(genericIDNames, name); i >= 0 {
			return i
		}
		return len(genericIDNames)
	}
	best := ""
	for name, n := range votes {
		switch {
		case best == "", n > votes[best],
			n == votes[best] && rank(name) < rank(best),
			n == votes[best] && rank(name) == rank(best) && name < best:
			best = name
		}
	}
	return best
}

// secretsOf lists the secret-like field names of the routes' bodies
// (request and response, at any depth), first seen first.
func secretsOf(routes []routeRef) []string {
	var out []string
	for _, ref := range routes {
		for _, s := range []*shape{&ref.r.req, &ref.r.resp} {
			for _, f := range s.fields {
				if leaf := leafName(f.path); isSecretName(leaf) && isSimpleName(leaf) && !slices.Contains(out, leaf) {
					out = append(out, leaf)
				}
			}
		}
	}
	return out
}

// nameResources makes the resources' names unique. Of the resources that
// share a name, the likeliest collection keeps it: a plural (organisations
// rather than the organisation of /interactions/organisation/{id}), with
// the most routes, and not nested under a parent. The others are qualified
// by their parent collection (org_member, team_member), or numbered.
func nameResources(rs []*resView) {
	shared := map[string]int{}
	for _, rv := range rs {
		shared[rv.name]++
	}
	byPref := slices.Clone(rs)
	slices.SortStableFunc(byPref, func(x, y *resView) int {
		px, py := singular(x.collection) != x.collection, singular(y.collection) != y.collection
		switch {
		case px != py && px:
			return -1
		case px != py:
			return 1
		}
		return cmp.Compare(len(y.routes), len(x.routes))
	})
	taken := map[string]bool{}
	for _, rv := range byPref {
		if !taken[rv.name] && (shared[rv.name] == 1 || parentOf(rv.key) == "") {
			taken[rv.name] = true
			continue
		}
		if p := parentOf(rv.key); p != "" && !taken[eventWord(singular(p))+"_"+rv.name] {
			rv.name = eventWord(singular(p)) + "_" + rv.name
			taken[rv.name] = true
			continue
		}
		base := rv.name
		for n := 2; taken[rv.name]; n++ {
			rv.name = base + strconv.Itoa(n)
		}
		taken[rv.name] = true
	}
}

// parentOf is the collection literal before the item's parent id
// (/orgs/{id}/members/{id2} → orgs), or "".
func parentOf(key string) string {
	segs := splitTemplate(key)
	last := lastParam(segs)
	if last < 1 {
		return ""
	}
	prev := lastParam(segs[:last])
	if prev < 1 || isParam(segs[prev-1]) {
		return ""
	}
	return segs[prev-1]
}
