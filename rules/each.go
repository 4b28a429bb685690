package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// MaxEachItems bounds the items one request gives a rule with each: past
// it, the rule's events for the request are skipped (each_too_many), so
// that a huge batch cannot hold a request nor fill the queue.
const MaxEachItems = 1000

// EachSpec is a rule's `each`: the rule is evaluated once per element of
// the array Source gives (an object is one element; null or missing gives
// none), the element being the source item. Response, an array in the
// answer (response.body[...]), holds the items' resources: the element
// whose By field (a gjson path) equals the item (the item itself when it
// is a scalar, its own By field when it is an object) is the source
// response.item; with no By, the element at the item's position.
//
// In YAML and JSON, the short form is the source alone (each:
// response.body), the long form {source, response, by}.
type EachSpec struct {
	Source   string
	Response string
	By       string
}

type eachJSON struct {
	Source   string `json:"source"`
	Response string `json:"response,omitempty"`
	By       string `json:"by,omitempty"`
}

// MarshalJSON writes the short form when only Source is set.
func (e EachSpec) MarshalJSON() ([]byte, error) {
	if e.Response == "" && e.By == "" {
		return json.Marshal(e.Source)
	}
	return json.Marshal(eachJSON(e))
}

// UnmarshalJSON reads both forms; unknown keys are errors.
func (e *EachSpec) UnmarshalJSON(b []byte) error {
	raw := bytes.TrimSpace(b)
	if len(raw) > 0 && raw[0] == '"' {
		*e = EachSpec{}
		return json.Unmarshal(raw, &e.Source)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("each: want a source string or an object {source, response, by}, got %s", raw)
	}
	var j eachJSON
	if err := strictJSON(raw, &j); err != nil {
		return fmt.Errorf("each: %w", err)
	}
	*e = EachSpec(j)
	return nil
}

// eachRule is a compiled EachSpec.
type eachRule struct {
	items    source
	response *source // nil without each.response
	by       string  // gjson path; "" pairs by position
	early    bool    // the items are read from the request
}

// compileEach compiles a rule's each; fail reports each error at its key.
func compileEach(spec *EachSpec, pp *pathPattern, fail func(field string, err error)) *eachRule {
	e := &eachRule{}
	ok := true
	items, err := compileSource(strings.TrimSpace(spec.Source), pp)
	switch {
	case strings.TrimSpace(spec.Source) == "":
		fail("each", errors.New("each: the source of the items is required, e.g. each: response.body or each: {source: request.body.keys}"))
		ok = false
	case err != nil:
		fail("each.source", fmt.Errorf("each: %w", err))
		ok = false
	case items.kind != srcRequestBody && items.kind != srcResponseBody:
		fail("each.source", fmt.Errorf("each: the items come from request.body[.<path>] or response.body[.<path>], not %q", spec.Source))
		ok = false
	}
	e.items, e.early = items, items.kind == srcRequestBody
	if spec.Response != "" {
		resp, err := compileSource(strings.TrimSpace(spec.Response), pp)
		switch {
		case err != nil:
			fail("each.response", fmt.Errorf("each.response: %w", err))
			ok = false
		case resp.kind != srcResponseBody:
			fail("each.response", fmt.Errorf("each.response: the items' resources come from response.body[.<path>], not %q", spec.Response))
			ok = false
		}
		e.response = &resp
	}
	if by := strings.TrimSpace(spec.By); by != "" {
		if spec.Response == "" {
			fail("each.by", errors.New("each.by pairs items with the elements of each.response, which is not given"))
			ok = false
		} else if err := checkGJSONPath(by); err != nil {
			fail("each.by", fmt.Errorf("each.by: %w", err))
			ok = false
		}
		e.by = by
	}
	if !ok {
		return nil
	}
	return e
}

// Item is one element a rule with each is evaluated for.
type Item struct {
	Value    []byte // the element, JSON
	Response []byte // its paired element of each.response, JSON; nil without one
}

// HasEach reports whether the rule is evaluated per item.
func (r *Rule) HasEach() bool { return r.each != nil }

// ItemsEarly reports whether the rule's items are read from the request,
// and so are known before it goes upstream.
func (r *Rule) ItemsEarly() bool { return r.each != nil && r.each.early }

// ItemValues returns the elements of the rule's each source in in: an
// array's elements, an object as one element, none for null or anything
// else; nil for a rule without each. Past MaxEachItems it fails with
// each_too_many.
func (c Candidate) ItemValues(in *Input) ([][]byte, error) {
	e := c.Rule.each
	if e == nil {
		return nil, nil
	}
	raw, serr := e.items.value(in, c.Params)
	if serr != nil {
		return nil, serr
	}
	return elements(raw)
}

// elements splits a JSON value into the items it gives.
func elements(raw []byte) ([][]byte, error) {
	v := gjson.ParseBytes(raw)
	switch {
	case v.IsObject():
		return [][]byte{raw}, nil
	case !v.IsArray():
		return nil, nil
	}
	var out [][]byte
	var err error
	v.ForEach(func(_, el gjson.Result) bool {
		if len(out) == MaxEachItems {
			err = &SkipError{Reason: ReasonEachTooMany, Err: fmt.Errorf("more than %d items", MaxEachItems)}
			return false
		}
		out = append(out, []byte(el.Raw))
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Items returns the items of in, each with its paired element of the
// answer when the rule has each.response.
func (c Candidate) Items(in *Input) ([]Item, error) {
	vals, err := c.ItemValues(in)
	if err != nil || len(vals) == 0 {
		return nil, err
	}
	items := make([]Item, len(vals))
	for i, v := range vals {
		items[i].Value = v
	}
	e := c.Rule.each
	if e.response == nil {
		return items, nil
	}
	raw, serr := e.response.value(in, c.Params)
	if serr != nil {
		return nil, serr
	}
	resp := gjson.ParseBytes(raw)
	if !resp.IsArray() {
		resp = gjson.Parse("[" + resp.Raw + "]") // an object answer is one resource
	}
	if e.by == "" {
		elems := resp.Array()
		for i := range items {
			if i < len(elems) {
				items[i].Response = []byte(elems[i].Raw)
			}
		}
		return items, nil
	}
	byKey := map[string][]byte{}
	resp.ForEach(func(_, el gjson.Result) bool {
		if k := pairKey(el.Get(e.by)); k != "" {
			if _, dup := byKey[k]; !dup {
				byKey[k] = []byte(el.Raw)
			}
		}
		return true
	})
	for i := range items {
		v := gjson.ParseBytes(items[i].Value)
		if v.IsObject() {
			v = v.Get(e.by)
		}
		if k := pairKey(v); k != "" {
			items[i].Response = byKey[k]
		}
	}
	return items, nil
}

// pairKey is how an item and a response element are compared: as text, so
// that the id 7 of a request pairs with "7" in the answer; "" for null,
// missing or a compound value.
func pairKey(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Number, gjson.True, gjson.False:
		return v.Raw
	}
	return ""
}

// SetItem makes it what item and response.item read in the Input (nil clears
// them), forgetting what was parsed of the last one.
func (in *Input) SetItem(it *Item) {
	in.item, in.itemResp = doc{}, doc{}
	in.hasItem = it != nil
	if it != nil {
		in.itemRaw, in.itemRespRaw = it.Value, it.Response
	} else {
		in.itemRaw, in.itemRespRaw = nil, nil
	}
}

// itemDoc returns the current item (or its response element) as a parsed
// document; null when there is none.
func (in *Input) itemDoc(resp bool) *doc {
	d, raw := &in.item, in.itemRaw
	if resp {
		d, raw = &in.itemResp, in.itemRespRaw
	}
	if !d.parsed {
		d.parsed = true
		d.raw = nullJSON
		if len(raw) > 0 && gjson.ValidBytes(raw) {
			d.raw = raw
		}
	}
	return d
}

// checkItems refuses item and response.item where the rule cannot give
// them: item without each, response.item without each.response.
func (r *Rule) checkItems(spec *Spec, fail func(field string, err error)) {
	hasResp := r.each != nil && r.each.response != nil
	check := func(field string, kind srcKind) {
		switch {
		case kind == srcItem && r.each == nil:
			fail(field, fmt.Errorf("%s reads item, but the rule has no each (each: response.body gives one item per element)", field))
		case kind == srcResponseItem && !hasResp:
			fail(field, fmt.Errorf("%s reads response.item, which needs each.response (the array of the items' resources in the answer)", field))
		}
	}
	kindOf := func(raw string) srcKind {
		s, err := compileSource(raw, r.path)
		if err != nil {
			return 0
		}
		return s.kind
	}
	specSources(spec, func(field, raw string) { check(field, kindOf(raw)) })
	if r.when != nil {
		if r.when.needsItem {
			check("when", srcItem)
		}
		if r.when.respItem && !r.when.needsResp {
			check("when", srcResponseItem)
		}
	}
	if r.orderKey != nil {
		r.orderKey.walk(func(s *source) { check("order_key", s.kind) })
	}
	if st := r.state; st != nil {
		st.key.walk(func(s *source) { check("state.key", s.kind) })
		st.prefetchPath.walk(func(s *source) { check("state.prefetch.request", s.kind) })
		if !st.forget {
			check("state.snapshot", st.snapshot.kind)
		}
	}
}

// specSources calls fn with each source string of the rule's data (at its
// key path), site and user_id.
func specSources(spec *Spec, fn func(field, raw string)) {
	var data func(d *Data, at string)
	data = func(d *Data, at string) {
		if d.Source != "" {
			fn(at, d.Source)
			return
		}
		for i := range d.Fields {
			data(&d.Fields[i].Value, at+"."+d.Fields[i].Name)
		}
	}
	if spec.Data != nil {
		data(spec.Data, "data")
	}
	if spec.Site != "" {
		fn("site", spec.Site)
	}
	if spec.UserID != "" {
		fn("user_id", spec.UserID)
	}
}

// EarlyItems returns what the rule is evaluated for, as known before the
// request goes upstream: the items its each reads from the request (in),
// or one nil item, the exchange itself, for a rule without each.
func (c Candidate) EarlyItems(in *Input) ([]*Item, error) {
	if c.Rule.each == nil {
		return []*Item{nil}, nil
	}
	vals, err := c.ItemValues(in)
	if err != nil {
		return nil, err
	}
	items := make([]*Item, len(vals))
	for j, v := range vals {
		items[j] = &Item{Value: v}
	}
	return items, nil
}
