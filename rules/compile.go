package rules

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Rule is one compiled rule.
type Rule struct {
	name        string
	description string
	pos         Pos
	methods     []string // nil = any method
	path        *pathPattern
	status      statusSet
	when        *whenProg
	data        *dataTmpl // nil = null data
	redact      *redactor
	site        *source
	userID      *source
	state       *stateRule // nil when the rule keeps no state
	each        *eachRule  // nil when the rule is evaluated once per exchange
	shadow      bool       // its events are stored, never delivered
	orderKey    *template  // nil: the state key orders the events
	needsReq    bool
	needsResp   bool
}

// Name returns the event name.
func (r *Rule) Name() string { return r.name }

// Shadow reports whether the rule's events are stored and listed but never
// delivered (a new rule tried on live traffic first).
func (r *Rule) Shadow() bool { return r.shadow }

// Description returns the rule's description, for the event catalogue.
func (r *Rule) Description() string { return r.description }

// Pos returns where the rule was written.
func (r *Rule) Pos() Pos { return r.pos }

// MatchesStatus reports whether the response status is one the rule
// fires on.
func (r *Rule) MatchesStatus(code int) bool { return r.status.has(code) }

// NeedsRequestBody reports whether some source (data, when, site,
// user_id) reads request.body, so the caller must buffer it.
func (r *Rule) NeedsRequestBody() bool { return r.needsReq }

// NeedsResponseBody reports whether some source reads response.body.
func (r *Rule) NeedsResponseBody() bool { return r.needsResp }

func (r *Rule) matchesMethod(method string) bool {
	if r.methods == nil {
		return true
	}
	for _, m := range r.methods {
		if m == method {
			return true
		}
	}
	return false
}

// Set is a compiled set of rules, safe for concurrent use.
type Set struct {
	rules     []*Rule
	byMethod  map[string][]*Rule
	anyMethod []*Rule
	events    []EventInfo
}

// EventInfo describes one event the rules can emit.
type EventInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Candidate is a rule whose method and path match a request, with the
// values its {params} captured.
type Candidate struct {
	Rule   *Rule
	Params map[string]string
}

// Compile validates and compiles specs once. Errors read
// "file:line: event NAME: what", or "events[i]: event NAME: what" for
// specs without a file; all of them are returned, joined.
func Compile(specs []Spec) (*Set, error) {
	s := &Set{byMethod: map[string][]*Rule{}}
	var errs []error
	for i := range specs {
		r, err := compileRule(i, &specs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	descs := map[string]string{}
	for _, r := range s.rules {
		if r.methods == nil {
			s.anyMethod = append(s.anyMethod, r)
		}
		for _, m := range r.methods {
			s.byMethod[m] = append(s.byMethod[m], r)
		}
		if r.name == "" {
			continue // state only: emits nothing
		}
		if d, seen := descs[r.name]; !seen || d == "" {
			descs[r.name] = r.description
		}
	}
	for name, d := range descs {
		s.events = append(s.events, EventInfo{Name: name, Description: d})
	}
	sort.Slice(s.events, func(i, j int) bool { return s.events[i].Name < s.events[j].Name })
	return s, nil
}

// compileRule compiles spec i, returning all of its errors joined.
func compileRule(i int, spec *Spec) (*Rule, error) {
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, errAt(i, spec, field, err))
	}
	r := &Rule{name: spec.Name, description: spec.Description, pos: spec.Pos, shadow: spec.Shadow}
	checkName(spec, fail)
	r.methods = compileMethods(spec.Match.Method, fail)
	var err error
	if r.status, err = compileStatus(spec.Match.Status); err != nil {
		fail("match.status", err)
	}
	if r.redact, err = compileRedact(spec.Redact); err != nil {
		fail("redact", fmt.Errorf("redact: %w", err))
	}
	if r.path, err = compilePath(spec.Match.Path); err != nil {
		field := "match.path"
		if spec.Match.Path == "" {
			field = "match"
		}
		fail(field, err)
		// Sources may name {params}: without a pattern they cannot be
		// checked, and their errors would only be noise.
		return nil, errors.Join(errs...)
	}
	r.compileSources(spec, fail)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.markNeeds()
	return r, nil
}

// checkName checks the rule's name: an event name, or none for a rule that
// only keeps state.
func checkName(spec *Spec, fail func(string, error)) {
	switch {
	case spec.Name == "" && spec.State != nil:
		// A rule without a name only keeps state (e.g. on reads): what
		// would shape an event has no use there.
		for field, set := range map[string]bool{"data": spec.Data != nil, "when": spec.When != "", "site": spec.Site != "",
			"user_id": spec.UserID != "", "redact": len(spec.Redact) > 0, "shadow": spec.Shadow, "order_key": spec.OrderKey != ""} {
			if set {
				fail(field, fmt.Errorf("%s: a rule without a name emits nothing, so it takes no %s (give it a name, or remove %s)", field, field, field))
			}
		}
	case spec.Name == "":
		fail("", errors.New("missing name (only a rule with state may have none)"))
	case spec.Name == webhook.TestEvent:
		fail("name", fmt.Errorf("the name %q is reserved for test deliveries", webhook.TestEvent))
	case !webhook.ValidEventName(spec.Name):
		fail("name", fmt.Errorf("bad name %q: use letters, digits, _ and - in dot-separated parts, like order.created", spec.Name))
	}
}

// compileMethods returns the methods in upper case, once each.
func compileMethods(given []string, fail func(string, error)) []string {
	var out []string
	for _, m := range given {
		up := strings.ToUpper(strings.TrimSpace(m))
		if !slices.Contains(methods, up) {
			fail("match.method", fmt.Errorf("bad method %q: want one of %s (leave method out for any method)", m, strings.Join(methods, ", ")))
			continue
		}
		if !slices.Contains(out, up) {
			out = append(out, up)
		}
	}
	return out
}

// compileSources compiles what reads the exchange: data, site, user_id,
// state and when (the path's {params} are known by now).
func (r *Rule) compileSources(spec *Spec, fail func(string, error)) {
	if spec.Data != nil {
		d := compileData(spec.Data, "data", r.path, func(at string, err error) {
			fail(at, fmt.Errorf("%s: %w", at, err))
		})
		r.data = &d
	}
	one := func(field, raw string) *source {
		if raw == "" {
			return nil
		}
		src, err := compileSource(raw, r.path)
		if err != nil {
			fail(field, fmt.Errorf("%s: %w", field, err))
			return nil
		}
		return &src
	}
	r.site = one("site", spec.Site)
	r.userID = one("user_id", spec.UserID)
	if spec.Each != nil {
		r.each = compileEach(spec.Each, r.path, fail)
		if r.each == nil {
			return // state and when depend on it
		}
	}
	if spec.State != nil {
		r.state = compileState(spec.State, r.path, r.redact, r.each, fail)
	}
	if spec.OrderKey != "" {
		t, err := compileTemplate(spec.OrderKey, r.path)
		if err != nil {
			fail("order_key", fmt.Errorf("order_key: %w", err))
		} else {
			r.orderKey = &t
		}
	}
	if strings.TrimSpace(spec.When) != "" {
		var err error
		if r.when, err = compileWhen(spec.When, r.path); err != nil {
			fail("when", fmt.Errorf("when: %w", err))
		}
	}
	r.checkItems(spec, fail)
	if spec.State == nil {
		for _, field := range readsPrevious(spec, r.when) {
			fail(field, fmt.Errorf("%s reads previous, but the rule has no state, so previous would always be null: "+
				"give the rule a state with the resource's key (state: {key: \"order:{path.id}\"})", field))
		}
	}
}

// markNeeds records whether the rule reads the request or response body,
// so that the handler reads only what some rule needs.
func (r *Rule) markNeeds() {
	mark := func(req, resp bool) {
		r.needsReq = r.needsReq || req
		r.needsResp = r.needsResp || resp
	}
	if r.data != nil {
		r.data.walk(func(s *source) { mark(s.needs()) })
	}
	for _, s := range []*source{r.site, r.userID} {
		if s != nil {
			mark(s.needs())
		}
	}
	if r.when != nil {
		mark(r.when.needsReq, r.when.needsResp)
	}
	if r.state != nil {
		mark(r.state.needsReq, r.state.needsResp)
	}
	if r.orderKey != nil {
		r.orderKey.walk(func(s *source) { mark(s.needs()) })
	}
	if r.each != nil {
		mark(r.each.items.needs())
		if r.each.response != nil {
			mark(r.each.response.needs())
		}
	}
}

// methods are the request methods a rule may match.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// readsPrevious returns the fields of spec (data.x, site, user_id, when)
// that read previous. when is the compiled `when`, nil when none or bad.
func readsPrevious(spec *Spec, when *whenProg) []string {
	var out []string
	specSources(spec, func(field, raw string) {
		if raw == "previous" || strings.HasPrefix(raw, "previous.") {
			out = append(out, field)
		}
	})
	if when != nil && when.needsPrev {
		out = append(out, "when")
	}
	return out
}

// Rules returns the rules in file order.
func (s *Set) Rules() []*Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// Events returns the distinct named events, sorted by name, each with the
// first description given for it.
func (s *Set) Events() []EventInfo {
	if s == nil {
		return nil
	}
	return s.events
}

// Matches reports whether some rule's method and path match. It does not
// allocate, so the caller can ask it for every request.
func (s *Set) Matches(method, path string) bool {
	if s == nil {
		return false
	}
	for _, r := range s.byMethod[method] {
		if r.path.match(path, nil) {
			return true
		}
	}
	for _, r := range s.anyMethod {
		if r.path.match(path, nil) {
			return true
		}
	}
	return false
}

// Candidates returns the rules whose method and path match, in file
// order, with their captured {params} (nil when the pattern has none).
func (s *Set) Candidates(method, path string) []Candidate {
	if s == nil {
		return nil
	}
	var out []Candidate
	for _, r := range s.rules {
		if !r.matchesMethod(method) || !r.path.match(path, nil) {
			continue
		}
		c := Candidate{Rule: r}
		if len(r.path.params) > 0 {
			c.Params = make(map[string]string, len(r.path.params))
			r.path.match(path, c.Params)
		}
		out = append(out, c)
	}
	return out
}
