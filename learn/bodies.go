package learn

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// Bounds of reading one body, beyond Options: they keep one hostile body
// from costing more than a few passes over its bytes.
const (
	maxNesting      = 128   // brackets deeper than this: the body is not read
	maxWalkNodes    = 10000 // values looked at per body
	maxKeyBytes     = 128   // longer keys are skipped
	maxVersionField = 64    // top-level fields of a document compared between versions
	maxTextBytes    = 64    // longest value kept as text (ids, state values)
)

// typeMask is a set of JSON types.
type typeMask uint8

const (
	tString typeMask = 1 << iota
	tNumber
	tBool
	tNull
	tObject
	tArray
)

var typeNames = []string{"string", "number", "boolean", "null", "object", "array"}

// names lists the types of m, in a fixed order.
func (m typeMask) names() []string {
	var out []string
	for i, n := range typeNames {
		if m&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func typeOf(v gjson.Result) typeMask {
	switch v.Type {
	case gjson.String:
		return tString
	case gjson.Number:
		return tNumber
	case gjson.True, gjson.False:
		return tBool
	case gjson.Null:
		return tNull
	}
	if v.IsArray() {
		return tArray
	}
	return tObject
}

// bodyKind is the top-level kind of a body.
type bodyKind uint8

const (
	kindNone bodyKind = iota
	kindObject
	kindArray
	kindScalar
)

// fieldObs is one field path of a body and its type there.
type fieldObs struct {
	path  string
	depth int
	types typeMask
}

// docField is one top-level field of a document.
type docField struct {
	name  string
	hash  uint64   // of its JSON text: equal values, equal hashes
	types typeMask // its type
	text  string   // a string's or number's text, when at most maxTextBytes
}

// doc is a document of an answer: the object, or each object of an array.
type doc []docField

// bodyObs is what one body showed, read outside the model's lock.
type bodyObs struct {
	kind      bodyKind
	envelope  string // the wrapper key ({"data": …}), or ""
	fields    []fieldObs
	docs      []doc
	leaves    []leaf // short values a rule's key could read (requests only)
	truncated bool   // not every value was looked at
	skipped   string
}

// leaf is a string or number at a path of simple keys (data.object.id),
// which a state key template can read.
type leaf struct {
	path, text string
}

// maxLeaves bounds the leaves kept of a request body.
const maxLeaves = 32

// mediaType is a Content-Type's type/subtype in lower case, without its
// parameters: mime.ParseMediaType does more, and costs more, than a
// request's worth of learning needs.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// isJSONType reports whether a Content-Type says JSON (application/json,
// application/vnd.api+json, text/json…).
func isJSONType(ct string) bool {
	mt := mediaType(ct)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func isFormType(ct string) bool {
	return mediaType(ct) == "application/x-www-form-urlencoded"
}

// readBody reads a body's shape, and an answer's envelope and documents or
// a request's leaves. It never fails: a body it cannot read says why in
// skipped.
func readBody(b []byte, ct string, o *Options, answer bool) bodyObs {
	switch {
	case len(b) == 0:
		return bodyObs{}
	case len(b) > o.MaxBodyBytes:
		return bodyObs{skipped: "bodies_too_large"}
	case isFormType(ct):
		return readForm(b, o)
	case !isJSONType(ct):
		return bodyObs{}
	case !nestingOK(b, maxNesting):
		return bodyObs{skipped: "bodies_too_deep"}
	case !gjson.ValidBytes(b):
		return bodyObs{skipped: "bodies_invalid"}
	}
	v := gjson.ParseBytes(b)
	var obs bodyObs
	if !answer {
		if v.IsObject() {
			obs.leaves = readLeaves(v, "", 0, o.MaxDepth, nil)
		}
	} else if key, inner := envelopeOf(v); key != "" {
		obs.envelope, v = key, inner
	}
	w := walker{o: o, budget: maxWalkNodes, seen: map[string]int{}}
	switch {
	case v.IsObject():
		obs.kind = kindObject
		w.object(v, "", 0)
		if answer {
			obs.docs = []doc{readDoc(v)}
		}
	case v.IsArray():
		obs.kind = kindArray
		w.topArray(v)
		if answer {
			obs.docs = readDocs(v, o.MaxBatchItems)
		}
	default:
		obs.kind = kindScalar
	}
	obs.fields, obs.truncated = w.fields, w.truncated
	return obs
}

// readLeaves collects the short strings and numbers of an object, through
// nested objects (not arrays: a key template names one value).
func readLeaves(v gjson.Result, prefix string, depth, maxDepth int, out []leaf) []leaf {
	if depth >= maxDepth {
		return out
	}
	v.ForEach(func(k, val gjson.Result) bool {
		if !isSimpleName(k.Str) {
			return true
		}
		path := k.Str
		if prefix != "" {
			path = prefix + "." + k.Str
		}
		switch {
		case val.IsObject():
			out = readLeaves(val, path, depth+1, maxDepth, out)
		case (val.Type == gjson.String || val.Type == gjson.Number) && len(val.Raw) <= maxTextBytes:
			out = append(out, leaf{path, val.String()})
		}
		return len(out) < maxLeaves
	})
	return out
}

// readForm reads a form body as the rules do: an object of strings
// (arrays for repeated keys).
func readForm(b []byte, o *Options) bodyObs {
	q, err := url.ParseQuery(string(b))
	if err != nil && len(q) == 0 {
		return bodyObs{skipped: "bodies_invalid"}
	}
	obs := bodyObs{kind: kindObject}
	for _, k := range slices.Sorted(maps.Keys(q)) { // as the rules read it: keys sorted
		vs := q[k]
		if isSimpleName(k) && len(vs) == 1 && len(vs[0]) <= maxTextBytes && len(obs.leaves) < maxLeaves {
			obs.leaves = append(obs.leaves, leaf{k, vs[0]})
		}
		if len(obs.fields) >= o.MaxFields {
			obs.truncated = true
			break
		}
		if len(k) > maxKeyBytes {
			obs.truncated = true
			continue
		}
		t := tString
		if len(vs) > 1 {
			t = tArray
		}
		obs.fields = append(obs.fields, fieldObs{path: k, types: t})
	}
	return obs
}

// nestingOK reports whether b's brackets nest at most max deep, so that
// the recursive reads after it stay shallow. Brackets in strings do not
// count.
func nestingOK(b []byte, maxDepth int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// envelopeKeys are the wrapper keys of envelope APIs (Directus, Strapi and
// JSON:API use data; JSON-RPC-like APIs result).
var envelopeKeys = map[string]bool{
	"data": true, "result": true, "item": true, "payload": true, "record": true,
	"resource": true, "entity": true, "response": true, "object": true, "body": true,
}

// envelopeSiblings are the keys an envelope may hold besides its wrapper:
// metadata about the answer, not the resource (JSend's status, JSON:API's
// links and included).
var envelopeSiblings = map[string]bool{
	"meta": true, "links": true, "included": true, "jsonapi": true, "success": true,
	"ok": true, "status": true, "code": true, "message": true, "errors": true,
	"error": true, "warnings": true, "request_id": true, "requestId": true,
}

// envelopeOf returns the wrapper key and what it wraps when v is an
// envelope: an object with one wrapper key holding an object or an array,
// and otherwise only metadata.
func envelopeOf(v gjson.Result) (string, gjson.Result) {
	if !v.IsObject() {
		return "", gjson.Result{}
	}
	var key string
	var inner gjson.Result
	ok, n := true, 0
	v.ForEach(func(k, val gjson.Result) bool {
		n++
		switch {
		case envelopeKeys[k.Str] && key == "" && (val.IsObject() || val.IsArray()):
			key, inner = k.Str, val
		case envelopeSiblings[k.Str] && n <= 16:
		default:
			ok = false
		}
		return ok
	})
	if !ok || key == "" {
		return "", gjson.Result{}
	}
	return key, inner
}

// readDocs reads the objects among the first max elements of an array.
func readDocs(v gjson.Result, maxDocs int) []doc {
	var docs []doc
	n := 0
	v.ForEach(func(_, el gjson.Result) bool {
		if n++; n > maxDocs {
			return false
		}
		if el.IsObject() {
			docs = append(docs, readDoc(el))
		}
		return true
	})
	return docs
}

// readDoc reads the top-level fields of an object.
func readDoc(v gjson.Result) doc {
	var d doc
	v.ForEach(func(k, val gjson.Result) bool {
		if len(k.Str) > maxKeyBytes {
			return true
		}
		f := docField{name: k.Str, hash: hashString(val.Raw), types: typeOf(val)}
		if (val.Type == gjson.String || val.Type == gjson.Number) && len(val.Raw) <= maxTextBytes+2 {
			f.text = val.String()
		}
		d = append(d, f)
		return len(d) < maxVersionField
	})
	return d
}

// field returns the document's field called name.
func (d doc) field(name string) (docField, bool) {
	for _, f := range d {
		if f.name == name {
			return f, true
		}
	}
	return docField{}, false
}

// hashString is FNV-1a: deterministic, so that tests and reports are too.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// walker collects the field paths of one body.
type walker struct {
	o         *Options
	budget    int
	seen      map[string]int // path → index in fields
	fields    []fieldObs
	truncated bool
}

// add records that path (depth levels down) holds a value of type t.
func (w *walker) add(path string, depth int, t typeMask) bool {
	if w.budget--; w.budget < 0 {
		w.truncated = true
		return false
	}
	if i, ok := w.seen[path]; ok {
		w.fields[i].types |= t
		return true
	}
	if len(w.fields) >= w.o.MaxFields {
		w.truncated = true
		return true // known paths may still get types
	}
	w.seen[path] = len(w.fields)
	w.fields = append(w.fields, fieldObs{path: path, depth: depth, types: t})
	return true
}

// object records the fields of an object whose path is prefix.
func (w *walker) object(v gjson.Result, prefix string, depth int) {
	if depth >= w.o.MaxDepth {
		w.truncated = true
		return
	}
	v.ForEach(func(k, val gjson.Result) bool {
		if len(k.Str) > maxKeyBytes {
			w.truncated = true
			return true
		}
		path := k.Str
		if prefix != "" {
			path = prefix + "." + k.Str
		}
		return w.value(val, path, depth)
	})
}

// value records one value at path and walks into it.
func (w *walker) value(v gjson.Result, path string, depth int) bool {
	if !w.add(path, depth, typeOf(v)) {
		return false
	}
	switch {
	case v.IsObject():
		w.object(v, path, depth+1)
	case v.IsArray():
		w.array(v, path+"[]", depth+1)
	}
	return w.budget >= 0
}

// array records the first elements of an array; path ends in [].
func (w *walker) array(v gjson.Result, path string, depth int) {
	if depth >= w.o.MaxDepth {
		w.truncated = true
		return
	}
	n := 0
	v.ForEach(func(_, el gjson.Result) bool {
		if n++; n > w.o.MaxArrayItems {
			w.truncated = true
			return false
		}
		return w.value(el, path, depth)
	})
}

// topArray records the elements of a top-level array: the fields of its
// objects as the fields of the body (a batch is a list of documents), its
// other values as the path [].
func (w *walker) topArray(v gjson.Result) {
	n := 0
	v.ForEach(func(_, el gjson.Result) bool {
		if n++; n > w.o.MaxArrayItems {
			w.truncated = true
			return false
		}
		if el.IsObject() {
			w.object(el, "", 0)
			return w.budget >= 0
		}
		return w.value(el, "[]", 0)
	})
}
