package learn

import "slices"

// resource tracks the documents of one item route (/api/orders/{id}):
// per resource id the last version seen, and per top-level field what
// its values and changes were. That is how state-like fields (a status
// that changes on the same order) and last-modified fields (updated_at
// moves with every change, and only then) are told from the others.
type resource struct {
	key      string // the item template
	singular string // of the collection literal before the id: order
	fields   []*docStat
	index    map[string]int
	versions map[string]*version
	ring     []string // tracked ids, oldest first from next
	next     int
	evicted  int64
	dropped  int64 // fields not tracked: past MaxFields
}

// docStat is what one top-level field of a resource's documents did.
type docStat struct {
	name    string
	types   typeMask
	seen    int64            // versions it was in
	values  map[string]int64 // its enum-like string values, nil once it is not one
	notEnum bool             // a value was free text, an id, a date…, or too many values
	ids     int64            // resource ids it was first seen on
	changes int64            // times it differed from the same id's last version
	movedOn int64            // resource ids on which it changed
	// For last-modified candidates, from writes compared with the last
	// version: other fields changed and it moved (moved) or not (stuck);
	// nothing else changed and it stayed (kept) or moved (touched).
	moved, stuck, kept, touched int64
}

// version is a resource id's last document: each field's hash.
type version struct {
	hashes  []fieldHash // by field index
	changed []int       // fields already seen changing on this id
}

type fieldHash struct {
	idx  int
	hash uint64
}

func newResource(key, singular string) *resource {
	return &resource{key: key, singular: singular, index: map[string]int{}, versions: map[string]*version{}}
}

// observe records a document of resource id answered on route rt. The
// answer to a write (not a read) counts as evidence about last-modified
// fields, and the fields that changed are counted on the route.
func (r *resource) observe(id string, d doc, rt *route, o *Options) {
	cur := r.version(d, o)
	prev := r.versions[id]
	if prev == nil {
		for _, h := range cur.hashes {
			r.fields[h.idx].ids++
		}
		r.track(id, cur, o.MaxTrackedIDs)
		return
	}
	cur.changed = prev.changed
	for _, i := range r.compare(prev, cur, isWrite(rt.method)) {
		count(&rt.changed, r.fields[i].name, maxVersionField)
	}
	r.versions[id] = cur
}

// forget drops a deleted resource id.
func (r *resource) forget(id string) {
	delete(r.versions, id) // its ring slot is reused in turn
}

// version reads a document's fields into the field table.
func (r *resource) version(d doc, o *Options) *version {
	v := &version{hashes: make([]fieldHash, 0, len(d))}
	for _, f := range d {
		i, ok := r.index[f.name]
		if !ok {
			if len(r.fields) >= o.MaxFields {
				r.dropped++
				continue
			}
			i = len(r.fields)
			r.index[f.name] = i
			r.fields = append(r.fields, &docStat{name: f.name})
		}
		r.fields[i].value(f, o.MaxStateValues)
		v.hashes = append(v.hashes, fieldHash{idx: i, hash: f.hash})
	}
	slices.SortFunc(v.hashes, func(a, b fieldHash) int { return a.idx - b.idx })
	return v
}

// value records one value of the field.
func (s *docStat) value(f docField, maxValues int) {
	s.seen++
	s.types |= f.types
	switch {
	case s.notEnum || f.types == tNull:
	case f.types != tString || !isEnumValue(f.text):
		s.notEnum, s.values = true, nil
	default:
		if s.values == nil {
			s.values = map[string]int64{}
		}
		s.values[f.text]++
		if len(s.values) > maxValues {
			s.notEnum, s.values = true, nil
		}
	}
}

// track remembers a new id's version, forgetting the oldest past max.
func (r *resource) track(id string, v *version, maxIDs int) {
	if len(r.ring) < maxIDs {
		r.ring = append(r.ring, id)
		r.versions[id] = v
		return
	}
	old := r.ring[r.next]
	if _, ok := r.versions[old]; ok {
		delete(r.versions, old)
		r.evicted++
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.versions[id] = v
}

// compare records what changed between two versions of one id, and
// returns the fields that did.
func (r *resource) compare(prev, cur *version, write bool) []int {
	changed := diff(prev.hashes, cur.hashes)
	others := false
	for _, i := range changed {
		s := r.fields[i]
		s.changes++
		if !slices.Contains(cur.changed, i) {
			cur.changed = append(cur.changed, i)
			s.movedOn++
		}
		if !isStampName(s.name) {
			others = true
		}
	}
	if !write {
		return changed
	}
	for _, h := range cur.hashes {
		s := r.fields[h.idx]
		if !isStampName(s.name) {
			continue
		}
		moved := slices.Contains(changed, h.idx)
		switch {
		case others && moved:
			s.moved++
		case others:
			s.stuck++
		case moved:
			s.touched++
		default:
			s.kept++
		}
	}
	return changed
}

// diff lists the fields whose hashes differ, or that only one version has.
func diff(a, b []fieldHash) []int {
	var out []int
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || i < len(a) && a[i].idx < b[j].idx:
			out = append(out, a[i].idx)
			i++
		case i >= len(a) || b[j].idx < a[i].idx:
			out = append(out, b[j].idx)
			j++
		default:
			if a[i].hash != b[j].hash {
				out = append(out, a[i].idx)
			}
			i++
			j++
		}
	}
	return out
}

// genericIDNames are the names of a document's own id, by preference.
var genericIDNames = []string{"id", "_id", "uuid", "ID", "Id", "guid"}

// primaryID finds a document's own id: the first of genericIDNames it has
// (not null), else <singular>Id or <singular>_id. ok is false when there is none or
// its value is not a short string or number.
func primaryID(d doc, singular string) (name, value string, ok bool) {
	for _, n := range genericIDNames {
		if f, found := d.field(n); found && f.types != tNull {
			return n, f.text, f.text != ""
		}
	}
	if singular == "" {
		return "", "", false
	}
	for _, n := range []string{camelCase.join(singular, "id"), snakeCase.join(singular, "id"), singular + "ID"} {
		if f, found := d.field(n); found {
			return n, f.text, f.text != ""
		}
	}
	return "", "", false
}

// stateFields lists the state-like fields: strings with a few short
// values that change on the same resource. A field named as a state
// (status, state, stage…) needs one change; another (priority, stage
// names of a pipeline) needs changes on three resources, three values at
// least, and values shared among them (no more distinct values than half
// the resources seen): names and titles are unique and change rarely, and
// two-valued fields (language, currency) are settings more than states.
func (r *resource) stateFields(idField string) []*docStat {
	var out []*docStat
	for _, s := range r.fields {
		switch {
		case s.notEnum, len(s.values) < 2, s.changes == 0, s.types&^(tString|tNull) != 0:
		case s.name == idField, !isSimpleName(s.name), isSecretName(s.name), isStampName(s.name):
		case isStatusName(s.name):
			out = append(out, s)
		case s.movedOn >= 3 && len(s.values) >= 3 && int64(len(s.values))*2 <= s.ids:
			out = append(out, s)
		}
	}
	return out
}

// lastModified is the field that moves when the document changes and only
// then: named as one (isStampName), a string or number, seen moving with
// other fields or staying the same on no-op writes (its name says the
// rest), and not moving on no-op writes. A
// field that moves on every write (touched) is not one: comparing it
// would not tell a change from a no-op (a few such writes are allowed,
// one in five). Changes seen without a move (stuck) weigh less: a change
// the app made behind the proxy's back (a cascade that clears a
// reference, a write straight on the app) shows as one on the next
// answer, against an older version; only more of them than twice the
// moves (and one) rule the field out.
func (r *resource) lastModified() *docStat {
	var best *docStat
	for _, s := range r.fields {
		ok := isStampName(s.name) && isSimpleName(s.name) && s.types&^(tString|tNumber) == 0 &&
			(s.moved > 0 || s.kept > 0) && s.stuck <= 2*s.moved+1 && s.touched*5 <= s.kept
		if ok && (best == nil || s.moved > best.moved) {
			best = s
		}
	}
	return best
}
