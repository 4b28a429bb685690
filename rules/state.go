package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
)

// StateSpec is a rule's `state`: the resource it remembers. Key is a
// template over the sources ("order:{path.id}"), Snapshot the source kept
// under it after a matched response (default response.body; "none" forgets
// what was remembered, for a request that changes the resource in a way
// the exchange does not show, so the next one fetches it again), and Prefetch
// ("GET /api/orders/{path.id}") the request that fetches the old state
// upstream when nothing is remembered yet.
//
// SnapshotRedact lists keys removed from the snapshot before it is stored,
// written like the rule's redact entries, which apply to the snapshot too.
// In YAML and JSON it makes the long form of snapshot:
// {source: response.body, redact: [password]}.
//
// PrefetchSelect is a gjson path applied to the prefetch's answer before it
// becomes previous, for APIs that wrap resources in an envelope
// ({"data": {...}}): select data. In YAML and JSON it makes the long form
// of prefetch: {request: "GET /items/orders/{path.id}", select: data}.
type StateSpec struct {
	Key            string
	Snapshot       string
	SnapshotRedact []string
	Prefetch       string
	PrefetchSelect string
}

// stateJSON is the JSON form of StateSpec: snapshot is a source string or
// a snapshotJSON object, prefetch a request string or a prefetchJSON one.
type stateJSON struct {
	Key      string          `json:"key"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	Prefetch json.RawMessage `json:"prefetch,omitempty"`
}

type snapshotJSON struct {
	Source string   `json:"source,omitempty"`
	Redact []string `json:"redact,omitempty"`
}

type prefetchJSON struct {
	Request string `json:"request"`
	Select  string `json:"select,omitempty"`
}

// MarshalJSON writes snapshot as a string, or as an object when it has
// its own redact entries; prefetch likewise when it has a select.
func (s StateSpec) MarshalJSON() ([]byte, error) {
	j := stateJSON{Key: s.Key}
	var pf any
	switch {
	case s.PrefetchSelect != "":
		pf = prefetchJSON{Request: s.Prefetch, Select: s.PrefetchSelect}
	case s.Prefetch != "":
		pf = s.Prefetch
	}
	if pf != nil {
		b, err := json.Marshal(pf)
		if err != nil {
			return nil, fmt.Errorf("state prefetch: %w", err)
		}
		j.Prefetch = b
	}
	var snap any
	switch {
	case len(s.SnapshotRedact) > 0:
		snap = snapshotJSON{Source: s.Snapshot, Redact: s.SnapshotRedact}
	case s.Snapshot != "":
		snap = s.Snapshot
	}
	if snap != nil {
		b, err := json.Marshal(snap)
		if err != nil {
			return nil, fmt.Errorf("state snapshot: %w", err)
		}
		j.Snapshot = b
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads both forms of snapshot and of prefetch. Unknown keys
// are errors, as in the rest of the config.
func (s *StateSpec) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := strictJSON(b, &j); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	*s = StateSpec{Key: j.Key}
	if err := s.unmarshalPrefetch(j.Prefetch); err != nil {
		return err
	}
	raw := bytes.TrimSpace(j.Snapshot)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		return json.Unmarshal(raw, &s.Snapshot)
	case raw[0] == '{':
		var sj snapshotJSON
		if err := strictJSON(raw, &sj); err != nil {
			return fmt.Errorf("state.snapshot: %w", err)
		}
		s.Snapshot, s.SnapshotRedact = sj.Source, sj.Redact
	default:
		return fmt.Errorf("state.snapshot: want a source string or an object {source, redact}, got %s", raw)
	}
	return nil
}

func (s *StateSpec) unmarshalPrefetch(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case raw[0] == '"':
		return json.Unmarshal(raw, &s.Prefetch)
	case raw[0] == '{':
		var pj prefetchJSON
		if err := strictJSON(raw, &pj); err != nil {
			return fmt.Errorf("state.prefetch: %w", err)
		}
		if strings.TrimSpace(pj.Request) == "" {
			return errors.New(`state.prefetch: the long form needs request ("GET /path/{path.id}")`)
		}
		s.Prefetch, s.PrefetchSelect = pj.Request, pj.Select
		return nil
	default:
		return fmt.Errorf("state.prefetch: want a request string or an object {request, select}, got %s", raw)
	}
}

// strictJSON decodes b into v, refusing unknown keys.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// stateRule is a compiled StateSpec.
type stateRule struct {
	key          template
	snapshot     source
	redact       *redactor // the rule's and the snapshot's own; nil when none
	forget       bool      // snapshot: none
	keyEarly     bool      // the key reads only what is known before the request is sent
	prefetchVerb string
	prefetchPath template
	selectPath   string // gjson path into the prefetch's answer; "" for all of it
	readAhead    bool   // the early key or prefetch path reads request.body
	needsReq     bool   // some key or snapshot source reads request.body
	needsResp    bool   // ... response.body
	hasPrefetch  bool
}

// template is text with {source} placeholders.
type template struct {
	parts []tmplPart
	query int // for a URL: the index of the first part after the "?", 0 when none
}

// splitQuery marks where a URL template's query starts: at the first "?"
// of its literal text (a placeholder's gjson path may hold one too).
func (t *template) splitQuery() {
	for i, p := range t.parts {
		if p.src != nil {
			continue
		}
		before, after, found := strings.Cut(p.text, "?")
		if !found {
			continue
		}
		rest := append([]tmplPart{{text: before}, {text: after}}, t.parts[i+1:]...)
		t.parts = append(t.parts[:i], rest...)
		t.query = i + 1
		return
	}
}

// renderURL renders a path and query template: values are path-escaped
// before the "?" and query-escaped after it.
func (t template) renderURL(in *Input, params map[string]string) (string, *SkipError) {
	if t.query == 0 {
		return t.render(in, params, url.PathEscape)
	}
	path, err := template{parts: t.parts[:t.query]}.render(in, params, url.PathEscape)
	if err != nil {
		return "", err
	}
	q, err := template{parts: t.parts[t.query:]}.render(in, params, url.QueryEscape)
	if err != nil {
		return "", err
	}
	return path + "?" + q, nil
}

type tmplPart struct {
	text string
	src  *source // nil for literal text
}

// compileTemplate parses "literal {source} literal". A placeholder ends at
// the brace that balances its opening one, so gjson paths with braces work.
func compileTemplate(raw string, pp *pathPattern) (template, error) {
	var t template
	rest := raw
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return t, fmt.Errorf("%q: unbalanced }", raw)
			}
			t.parts = append(t.parts, tmplPart{text: rest})
			break
		}
		if i > 0 {
			if strings.IndexByte(rest[:i], '}') >= 0 {
				return t, fmt.Errorf("%q: unbalanced }", raw)
			}
			t.parts = append(t.parts, tmplPart{text: rest[:i]})
		}
		depth, end := 0, -1
		for j := i; j < len(rest) && end < 0; j++ {
			switch rest[j] {
			case '{':
				depth++
			case '}':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end < 0 {
			return t, fmt.Errorf("%q: unclosed {", raw)
		}
		src, err := compileSource(strings.TrimSpace(rest[i+1:end]), pp)
		if err != nil {
			return t, err
		}
		t.parts = append(t.parts, tmplPart{src: &src})
		rest = rest[end+1:]
	}
	if len(t.parts) == 0 {
		return t, errors.New("empty")
	}
	return t, nil
}

// early reports whether every placeholder is known before the request is
// sent upstream: the request (its body once read ahead), the {params} and,
// when the rule's items come from the request (itemsEarly), the item; not
// the response nor previous.
func (t template) early(itemsEarly bool) bool {
	for _, p := range t.parts {
		if p.src == nil {
			continue
		}
		switch p.src.kind {
		case srcRequestMethod, srcRequestPath, srcRequestHeader, srcRequestQuery, srcParam, srcRequestBody:
		case srcItem:
			if !itemsEarly {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// readsBody reports whether a placeholder reads the request body (an item
// in an early template is an element of it).
func (t template) readsBody() bool {
	for _, p := range t.parts {
		if p.src != nil && (p.src.kind == srcRequestBody || p.src.kind == srcItem) {
			return true
		}
	}
	return false
}

// render fills the placeholders in; escape (may be nil) is applied to each
// value. A null or missing value is an error: a key must name something.
func (t template) render(in *Input, params map[string]string, escape func(string) string) (string, *SkipError) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.src == nil {
			b.WriteString(p.text)
			continue
		}
		raw, err := p.src.value(in, params)
		if err != nil {
			return "", err
		}
		v := siteText(raw)
		if v == "" {
			return "", &SkipError{Reason: reasonStateKeyMissing}
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// reasonStateKeyMissing is the skip reason when a state key or prefetch
// path has a null part.
const reasonStateKeyMissing = "state_key_missing"

func (t template) walk(fn func(*source)) {
	for _, p := range t.parts {
		if p.src != nil {
			fn(p.src)
		}
	}
}

// compileState compiles a rule's state; fail reports each error at its key.
// ruleRedact (the rule's compiled redact, possibly nil) applies to the
// snapshot as well as its own entries.
//
// With each, the default snapshot is the item's resource: response.item
// with each.response, the item itself when it comes from the response.
func compileState(spec *StateSpec, pp *pathPattern, ruleRedact *redactor, each *eachRule, fail func(field string, err error)) *stateRule {
	st := &stateRule{}
	ok := true
	itemsEarly := each != nil && each.early
	var err error
	own, err := compileRedact(spec.SnapshotRedact)
	switch {
	case err != nil:
		fail("state.snapshot.redact", fmt.Errorf("state.snapshot.redact: %w", err))
		ok = false
	case own != nil && spec.Snapshot == SnapshotNone:
		fail("state.snapshot.redact", errors.New("state.snapshot.redact: snapshot none stores nothing to redact"))
		ok = false
	}
	st.redact = ruleRedact.merge(own)
	if strings.TrimSpace(spec.Key) == "" {
		fail("state", errors.New("state: key is required, e.g. \"order:{path.id}\""))
		ok = false
	} else if st.key, err = compileTemplate(spec.Key, pp); err != nil {
		fail("state.key", fmt.Errorf("state.key: %w", err))
		ok = false
	} else {
		st.key.walk(func(src *source) {
			if src.kind == srcPrevious && ok {
				fail("state.key", errors.New("state.key: a key cannot read previous (the state it names)"))
				ok = false
			}
		})
	}
	snap := spec.Snapshot
	switch {
	case snap != "":
	case each != nil && each.response != nil:
		snap = "response.item"
	case each != nil && !each.early:
		snap = "item"
	case each != nil:
		fail("state", errors.New("state.snapshot: with each over the request, say what to remember of each item "+
			"(give each a response to remember response.item, or snapshot: none to forget)"))
		ok, snap = false, "response.body" // checked on, then refused
	default:
		snap = "response.body"
	}
	if snap == SnapshotNone {
		st.forget = true
	} else if st.snapshot, err = compileSource(snap, pp); err != nil {
		fail("state.snapshot.source", fmt.Errorf("state.snapshot: %w", err))
		ok = false
	} else if st.snapshot.kind == srcPrevious {
		fail("state.snapshot", errors.New("state.snapshot: previous would keep the old state forever; use a request or response source"))
		ok = false
	}
	if spec.Prefetch == "" && spec.PrefetchSelect != "" {
		fail("state.prefetch.select", errors.New("state.prefetch: select needs a request (\"GET /path/{path.id}\")"))
		ok = false
	}
	if spec.Prefetch != "" {
		verb, path, found := strings.Cut(strings.TrimSpace(spec.Prefetch), " ")
		path = strings.TrimSpace(path)
		switch {
		case !found || !strings.HasPrefix(path, "/"):
			fail("state.prefetch.request", fmt.Errorf("state.prefetch: want \"GET /path/{path.id}\", got %q", spec.Prefetch))
			ok = false
		case verb != "GET":
			fail("state.prefetch.request", fmt.Errorf("state.prefetch: only GET fetches state, got %q", verb))
			ok = false
		default:
			st.prefetchVerb, st.hasPrefetch = verb, true
			st.selectPath = strings.TrimSpace(spec.PrefetchSelect)
			st.prefetchPath, err = compileTemplate(path, pp)
			st.prefetchPath.splitQuery()
			if err != nil {
				fail("state.prefetch.request", fmt.Errorf("state.prefetch: %w", err))
				ok = false
			} else if !st.prefetchPath.early(itemsEarly) {
				fail("state.prefetch.request", errors.New("state.prefetch: the path may use only path.<param>, request.* and an item of the request (known before the request is sent)"))
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	st.keyEarly = st.key.early(itemsEarly)
	st.readAhead = st.keyEarly && (st.key.readsBody() || (st.hasPrefetch && st.prefetchPath.readsBody()))
	if st.hasPrefetch && !st.keyEarly {
		fail("state.prefetch", errors.New("state.prefetch needs a key known before the request is sent (path.<param>, request.*, an item of the request), not one read from the response"))
		return nil
	}
	mark := func(s *source) {
		req, resp := s.needs()
		st.needsReq = st.needsReq || req
		st.needsResp = st.needsResp || resp
	}
	st.key.walk(mark)
	if !st.forget {
		mark(&st.snapshot)
	}
	return st
}

// SnapshotNone is the state.snapshot value that forgets the remembered
// state instead of writing one.
const SnapshotNone = "none"

// StateForgets reports whether the rule's matched responses forget the
// remembered state (snapshot: none) rather than write a new one.
func (r *Rule) StateForgets() bool { return r.state != nil && r.state.forget }

// HasState reports whether the rule remembers a resource.
func (r *Rule) HasState() bool { return r.state != nil }

// StateKeyEarly reports whether the rule's state key is known before the
// request is sent upstream (it reads no response), so requests on it can
// be serialised and the old state read (or prefetched) first.
func (r *Rule) StateKeyEarly() bool { return r.state != nil && r.state.keyEarly }

// StateNeedsBodyFirst reports whether the rule's early state key (or its
// prefetch path) reads the request body, which must then be read before
// the request goes upstream (within max_body).
func (r *Rule) StateNeedsBodyFirst() bool { return r.state != nil && r.state.readAhead }

// HasPrefetch reports whether the rule fetches the old state upstream when
// nothing is remembered.
func (r *Rule) HasPrefetch() bool { return r.state != nil && r.state.hasPrefetch }

// StateKey renders the rule's state key from in ("" with no state). For an
// early key, in needs only the request (its body if the key reads it).
func (c Candidate) StateKey(in *Input) (string, error) {
	if c.Rule.state == nil {
		return "", nil
	}
	k, err := c.Rule.state.key.render(in, c.Params, nil)
	if err != nil {
		return "", err
	}
	return k, nil
}

// Prefetch returns the method and path (escaped, ready for a URL) of the
// rule's prefetch request, or ok false when it has none.
func (c Candidate) Prefetch(in *Input) (method, path string, ok bool, err error) {
	st := c.Rule.state
	if st == nil || !st.hasPrefetch {
		return "", "", false, nil
	}
	p, serr := st.prefetchPath.renderURL(in, c.Params)
	if serr != nil {
		return "", "", false, serr
	}
	return st.prefetchVerb, p, true, nil
}

// SelectPrefetched returns what of a prefetch's answer (valid JSON) becomes
// previous: the value at the rule's prefetch select path, or the whole
// answer when it has none, without what the rule's snapshot leaves out (a
// field redacted from snapshots reads as null in previous, wherever
// previous came from); ok is false when the path finds nothing.
func (c Candidate) SelectPrefetched(answer []byte) (previous []byte, ok bool) {
	st := c.Rule.state
	if st == nil {
		return answer, true
	}
	if st.selectPath != "" {
		v := gjson.GetBytes(answer, st.selectPath)
		if !v.Exists() {
			return nil, false
		}
		answer = []byte(v.Raw)
	}
	return st.redact.apply(answer), true
}

// Snapshot returns the JSON to remember under the rule's key once its
// response matched (null when the source is missing; nil when the rule
// forgets the state, see StateForgets), without what the rule redacts.
func (c Candidate) Snapshot(in *Input) ([]byte, error) {
	if c.Rule.state == nil || c.Rule.state.forget {
		return nil, nil
	}
	v, err := c.Rule.state.snapshot.value(in, c.Params)
	if err != nil {
		return nil, err
	}
	return c.Rule.state.redact.apply(v), nil
}
