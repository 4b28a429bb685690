package learn

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Exchange is what the handler saw of one request: bodies are JSON when
// the content type says so, possibly nil (not captured, too large).
type Exchange struct {
	Method       string
	Path         string // URL path, unescaped
	Status       int
	RequestType  string // Content-Type of the request
	ResponseType string // Content-Type of the response
	RequestBody  []byte
	ResponseBody []byte
}

// Model learns routes, shapes and resources from exchanges. It is safe
// for concurrent use.
type Model struct {
	o Options

	mu        sync.Mutex
	exchanges int64
	ignored   map[string]int64 // exchanges or bodies left out, by reason
	dropped   int64            // exchanges on new templates past MaxTemplates
	templates map[string]*template
	resources map[string]*resource // by item template
	lostRes   int64                // documents of resources past MaxResources
	// fieldBudget is what is left of MaxTotalFields.
	fieldBudget int
}

// template is a route template and what each method did on it.
type template struct {
	text   string
	segs   []string
	routes map[string]*route
}

// route is one method on one template.
type route struct {
	method  string
	count   int64
	success map[int]int64 // 2xx statuses
	classes [6]int64      // other statuses by class (index status/100; 0 out of range)
	req     shape
	resp    shape
	// Documents of 2xx answers, checked against the template's last id:
	docs      int64            // documents seen
	primary   map[string]int64 // names of their own id field
	pathMatch int64            // documents whose own id is the path's last id
	known     int64            // documents of a collection write whose id was already tracked
	idMatch   map[string]int64 // fields whose value is the path's last id
	changed   map[string]int64 // document fields this route's answers showed changed
	// touched counts, for writes whose answer shows no document, the
	// request values that name a tracked resource: "<item template>
	// <request path>" (a payment callback naming its order).
	touched map[string]int64
}

// maxNames bounds the field names counted per route for id evidence.
const maxNames = 8

// New returns an empty model bounded by o (see Options for the defaults).
func New(o Options) *Model {
	m := &Model{o: o.withDefaults()}
	m.reset()
	return m
}

// Reset forgets everything observed.
func (m *Model) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reset()
}

func (m *Model) reset() {
	m.exchanges, m.dropped, m.lostRes = 0, 0, 0
	m.fieldBudget = m.o.MaxTotalFields
	m.ignored = map[string]int64{}
	m.templates = map[string]*template{}
	m.resources = map[string]*resource{}
}

// knownMethods are the methods a rule can match; others are counted
// together as OTHER.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

func normMethod(m string) string {
	up := strings.ToUpper(m)
	for _, k := range knownMethods {
		if up == k {
			return k
		}
	}
	return "OTHER"
}

// Observe learns from one exchange. Bodies are read (bounded by Options)
// before the model's lock is taken, and only for 2xx answers: the shapes
// and resources are those of successful requests.
func (m *Model) Observe(x *Exchange) {
	if x == nil {
		return
	}
	t, why := templatePath(x.Path, &m.o)
	method := normMethod(x.Method)
	ok := x.Status >= 200 && x.Status <= 299
	var req, resp bodyObs
	if why == "" && ok {
		req = readBody(x.RequestBody, x.RequestType, &m.o, false)
		resp = readBody(x.ResponseBody, x.ResponseType, &m.o, true)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.exchanges++
	if why != "" {
		m.ignored[why]++
		return
	}
	tp := m.template(&t)
	if tp == nil {
		m.dropped++
		return
	}
	r := tp.route(method)
	r.count++
	if !ok {
		class := x.Status / 100
		if class < 1 || class > 5 {
			class = 0
		}
		r.classes[class]++
		return
	}
	r.success[x.Status]++
	for _, why := range []string{req.skipped, resp.skipped} {
		if why != "" {
			m.ignored[why]++
		}
	}
	r.req.add(&req, m.o.MaxFields, &m.fieldBudget)
	r.resp.add(&resp, m.o.MaxFields, &m.fieldBudget)
	if !m.track(&t, r, &resp) && isWrite(method) && method != http.MethodDelete {
		m.touches(r, req.leaves)
	}
}

// template returns the stored template of t, making it if there is room.
func (m *Model) template(t *pathTemplate) *template {
	if tp, ok := m.templates[t.text]; ok {
		return tp
	}
	if len(m.templates) >= m.o.MaxTemplates {
		return nil
	}
	tp := &template{text: t.text, segs: t.segs, routes: map[string]*route{}}
	m.templates[t.text] = tp
	return tp
}

func (tp *template) route(method string) *route {
	r := tp.routes[method]
	if r == nil {
		r = &route{method: method, success: map[int]int64{}}
		tp.routes[method] = r
	}
	return r
}

// count adds one to a map of at most limit names.
func count(m *map[string]int64, name string, limit int) {
	if *m == nil {
		*m = map[string]int64{}
	}
	if _, ok := (*m)[name]; ok || len(*m) < limit {
		(*m)[name]++
	}
}

// track gives the documents of a 2xx answer to their resource: on a route
// with an id (/orders/{id}, /orders/{id}/status) the document whose own id
// is the path's; on a collection route (/orders) every document with an
// id, as created or changed in a batch. It reports whether the answer
// showed a document of a resource (or was a DELETE of one).
func (m *Model) track(t *pathTemplate, r *route, resp *bodyObs) bool {
	write := r.method != http.MethodGet && r.method != http.MethodHead
	last := lastParam(t.segs)
	switch {
	case last >= 0:
		key := joinSegs(t.segs[:last+1])
		id := t.values[len(t.values)-1]
		if r.method == http.MethodDelete {
			if res := m.resources[key]; res != nil {
				res.forget(id)
			}
			return true
		}
		if resp.kind != kindObject || len(resp.docs) == 0 {
			return false
		}
		sing := ""
		if last > 0 && !isParam(t.segs[last-1]) {
			sing = singular(t.segs[last-1])
		}
		return m.trackItem(key, sing, id, resp.docs[0], r)
	case write && len(t.segs) > 0 && t.segs[len(t.segs)-1] != "":
		key := t.text + "/{" + paramName(len(t.values)) + "}"
		sing := singular(t.segs[len(t.segs)-1])
		shown := false
		for _, d := range resp.docs {
			name, id, ok := primaryID(d, sing)
			r.docs++
			if name != "" {
				count(&r.primary, name, maxNames)
			}
			if ok {
				shown = true
				if res := m.resource(key, sing); res != nil {
					if res.versions[id] != nil {
						r.known++
					}
					res.observe(id, d, r, &m.o)
				}
			}
		}
		return shown
	}
	return false
}

// touches records the request values of a write that showed no document
// which name a tracked resource: a value that is the id of one of its
// tracked documents, under a key named like a reference to it (id, _id,
// orderId, order_id). Such a write changes the resource without showing
// it, so the proposal forgets the resource's state on it.
func (m *Model) touches(r *route, leaves []leaf) {
	for _, l := range leaves {
		if !isIDSegment(l.text) {
			continue
		}
		key := leafName(l.path)
		for _, res := range m.resources {
			if res.versions[l.text] == nil || !namesResource(key, res.singular) {
				continue
			}
			count(&r.touched, res.key+" "+l.path, maxNames)
		}
	}
}

// namesResource reports whether a request key refers to a resource: a
// generic id name, or one with the resource's name in it (orderId).
func namesResource(key, singular string) bool {
	if slices.Contains(genericIDNames, key) {
		return true
	}
	ws := words(key)
	return singular != "" && slices.Contains(ws, strings.ToLower(singular)) && slices.Contains(ws, "id")
}

// trackItem handles the document of a route with an id, and reports
// whether it was the path's resource.
func (m *Model) trackItem(key, sing, id string, d doc, r *route) bool {
	r.docs++
	for _, f := range d {
		if f.text == id {
			count(&r.idMatch, f.name, maxNames)
		}
	}
	name, own, ok := primaryID(d, sing)
	if name != "" {
		count(&r.primary, name, maxNames)
	}
	if !ok || own != id || refersTo(d, sing, name, id) {
		return false // another document: a child created under it, a summary…
	}
	r.pathMatch++
	if res := m.resource(key, sing); res != nil {
		res.observe(id, d, r, &m.o)
	}
	return true
}

// refersTo reports whether a document refers to the path's id by another
// field named after the path's collection (organisation_id under
// /interactions/organisation/{id}): the path names a parent, and the
// document is a child whose own id only happens to be the same number.
func refersTo(d doc, sing, primary, id string) bool {
	if sing == "" {
		return false
	}
	for _, n := range []string{camelCase.join(sing, "id"), snakeCase.join(sing, "id")} {
		if f, ok := d.field(n); ok && n != primary && f.text == id {
			return true
		}
	}
	return false
}

// resource returns the tracked resource of an item template, making it if
// there is room.
func (m *Model) resource(key, sing string) *resource {
	if res, ok := m.resources[key]; ok {
		return res
	}
	if len(m.resources) >= m.o.MaxResources {
		m.lostRes++
		return nil
	}
	res := newResource(key, sing)
	m.resources[key] = res
	return res
}
