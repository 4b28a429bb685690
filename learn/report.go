package learn

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Report is what the model observed, for the learn page and
// GET /webhooks/learn. It marshals to JSON as it is.
type Report struct {
	Exchanges int64            `json:"exchanges"`
	Ignored   map[string]int64 `json:"ignored"` // exchanges or bodies left out, by reason
	Templates int              `json:"templates"`
	// DroppedTemplates counts exchanges on new templates past
	// MaxTemplates; DroppedResources documents of resources past
	// MaxResources.
	DroppedTemplates int64            `json:"dropped_templates"`
	DroppedResources int64            `json:"dropped_resources"`
	Routes           []RouteReport    `json:"routes"`
	Resources        []ResourceReport `json:"resources"`
	Secrets          []SecretField    `json:"secrets"`
	NotProposed      []NoteReport     `json:"not_proposed"`
	Bounds           Options          `json:"bounds"`
}

// RouteReport is one method on one route template.
type RouteReport struct {
	Method   string           `json:"method"`
	Path     string           `json:"path"` // the template: /api/orders/{id}
	Count    int64            `json:"count"`
	Statuses map[string]int64 `json:"statuses"` // 2xx: "201": 6
	Failures map[string]int64 `json:"failures"` // others by class: "4xx": 3 ("other" out of range)
	Request  *ShapeReport     `json:"request,omitempty"`
	Response *ShapeReport     `json:"response,omitempty"`
	// DocumentIDs are the own id fields of the documents the answers
	// showed (id, _id…), PathIDFields the answers' fields whose value
	// was the path's last id: the evidence for the resource's id field.
	DocumentIDs  map[string]int64 `json:"document_ids,omitempty"`
	PathIDFields map[string]int64 `json:"path_id_fields,omitempty"`
	Resource     string           `json:"resource,omitempty"` // order
	Role         string           `json:"role,omitempty"`     // create, read, update, delete, action, batch_update, batch_delete, forget
}

// ShapeReport is what the bodies of one side of a route looked like:
// field names and JSON types, never values.
type ShapeReport struct {
	Bodies        int64            `json:"bodies"`
	Kind          string           `json:"kind"`               // object, array, scalar, mixed
	Envelope      string           `json:"envelope,omitempty"` // the wrapper key: data
	Fields        []FieldReport    `json:"fields"`             // of the document (inside the envelope; of the elements of an array)
	DroppedFields int64            `json:"dropped_fields,omitempty"`
	Truncated     int64            `json:"truncated,omitempty"` // bodies not walked to the end
	Skipped       map[string]int64 `json:"skipped,omitempty"`   // bodies not read, by reason
}

// FieldReport is one field path (customer.email, items[].sku).
type FieldReport struct {
	Path  string   `json:"path"`
	Types []string `json:"types"`
	Count int64    `json:"count"` // bodies it was in
}

// ResourceReport is a resource and what its documents showed.
type ResourceReport struct {
	Name         string               `json:"name"`       // order
	Collection   string               `json:"collection"` // orders
	Item         string               `json:"item,omitempty"`
	IDField      string               `json:"id_field"`
	Read         string               `json:"read,omitempty"` // GET route of one
	Style        string               `json:"style"`          // camelCase, snake_case
	Fields       []string             `json:"fields"`
	TrackedIDs   int                  `json:"tracked_ids"`
	EvictedIDs   int64                `json:"evicted_ids"`
	States       []StateReport        `json:"states"`
	LastModified *LastModifiedReport  `json:"last_modified,omitempty"`
	Candidates   []LastModifiedReport `json:"last_modified_candidates,omitempty"`
	Secrets      []string             `json:"secrets,omitempty"`
	Routes       []string             `json:"routes"` // "PUT /api/orders/{id}/status (action)"
}

// StateReport is a state-like field.
type StateReport struct {
	Field     string           `json:"field"`
	Values    map[string]int64 `json:"values"`    // versions seen with each value
	Changes   int64            `json:"changes"`   // times it changed on one resource
	Resources int64            `json:"resources"` // resources it changed on
}

// LastModifiedReport is the evidence about a last-modified field: writes
// compared with the resource's last version.
type LastModifiedReport struct {
	Field   string `json:"field"`
	Moved   int64  `json:"moved"`   // other fields changed and it moved
	Stuck   int64  `json:"stuck"`   // other fields changed, it did not
	Kept    int64  `json:"kept"`    // nothing changed, nor did it
	Touched int64  `json:"touched"` // nothing else changed, it moved
}

// SecretField is a secret-like field name seen in a body.
type SecretField struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Side   string `json:"side"` // request, response
	Field  string `json:"field"`
}

// NoteReport is a successful write that no proposed rule covers.
type NoteReport struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Why    string `json:"why"`
}

// Report returns what the model observed.
func (m *Model) Report() *Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.analyze()
	rep := &Report{
		Exchanges: m.exchanges, Ignored: map[string]int64{}, Templates: len(m.templates),
		DroppedTemplates: m.dropped, DroppedResources: m.lostRes, Bounds: m.o,
		Routes: []RouteReport{}, Resources: []ResourceReport{}, Secrets: []SecretField{}, NotProposed: []NoteReport{},
	}
	maps.Copy(rep.Ignored, m.ignored)
	for _, tp := range m.sortedTemplates() {
		for _, r := range tp.sortedRoutes() {
			rr := routeReport(tp, r)
			if rv := v.roles[r]; rv != nil {
				rr.Resource, rr.Role = rv.name, string(roleIn(rv, r))
			}
			rep.Routes = append(rep.Routes, rr)
			rep.Secrets = append(rep.Secrets, secretFields(tp, r)...)
		}
	}
	for _, rv := range v.resources {
		rep.Resources = append(rep.Resources, resourceReport(rv))
	}
	for _, n := range v.notes {
		rep.NotProposed = append(rep.NotProposed, NoteReport{Method: n.method, Path: n.path, Why: n.why})
	}
	return rep
}

func roleIn(rv *resView, r *route) role {
	for _, ref := range rv.routes {
		if ref.r == r {
			return ref.role
		}
	}
	return ""
}

func routeReport(tp *template, r *route) RouteReport {
	rr := RouteReport{
		Method: r.method, Path: tp.text, Count: r.count,
		Statuses: map[string]int64{}, Failures: map[string]int64{},
		Request: shapeReport(&r.req), Response: shapeReport(&r.resp),
		DocumentIDs: maps.Clone(r.primary), PathIDFields: maps.Clone(r.idMatch),
	}
	for code, n := range r.success {
		rr.Statuses[strconv.Itoa(code)] = n
	}
	for class, n := range r.classes {
		switch {
		case n == 0:
		case class == 0:
			rr.Failures["other"] = n
		default:
			rr.Failures[strconv.Itoa(class)+"xx"] = n
		}
	}
	return rr
}

func shapeReport(s *shape) *ShapeReport {
	if s.bodies == 0 && len(s.skipped) == 0 {
		return nil
	}
	sr := &ShapeReport{
		Bodies: s.bodies, Envelope: s.envelopeKey(), Fields: []FieldReport{},
		DroppedFields: s.dropped, Truncated: s.truncated, Skipped: maps.Clone(s.skipped),
	}
	switch {
	case s.bodies == 0:
	case s.objects == s.bodies:
		sr.Kind = "object"
	case s.arrays == s.bodies:
		sr.Kind = "array"
	case s.scalars == s.bodies:
		sr.Kind = "scalar"
	default:
		sr.Kind = "mixed"
	}
	for _, f := range s.fields {
		sr.Fields = append(sr.Fields, FieldReport{Path: f.path, Types: f.types.names(), Count: f.count})
	}
	return sr
}

func secretFields(tp *template, r *route) []SecretField {
	var out []SecretField
	for _, side := range []struct {
		name string
		s    *shape
	}{{"request", &r.req}, {"response", &r.resp}} {
		for _, f := range side.s.fields {
			if isSecretName(leafName(f.path)) {
				out = append(out, SecretField{Method: r.method, Path: tp.text, Side: side.name, Field: f.path})
			}
		}
	}
	return out
}

func resourceReport(rv *resView) ResourceReport {
	rr := ResourceReport{
		Name: rv.name, Collection: rv.collection, IDField: rv.idField, Style: rv.style.String(),
		Fields: rv.fields, Secrets: rv.secrets, States: []StateReport{},
	}
	if rv.key[0] != '?' {
		rr.Item = rv.key
	}
	if rv.read != nil {
		rr.Read = "GET " + rv.read.tp.text
	}
	for _, ref := range rv.routes {
		rr.Routes = append(rr.Routes, ref.r.method+" "+ref.tp.text+" ("+string(ref.role)+")")
	}
	slices.SortFunc(rr.Routes, strings.Compare)
	if res := rv.res; res != nil {
		rr.TrackedIDs, rr.EvictedIDs = len(res.versions), res.evicted
		for _, s := range res.fields {
			if isStampName(s.name) {
				rr.Candidates = append(rr.Candidates, lastModifiedReport(s))
			}
		}
	}
	for _, s := range rv.states {
		rr.States = append(rr.States, StateReport{Field: s.name, Values: maps.Clone(s.values), Changes: s.changes, Resources: s.movedOn})
	}
	if rv.lastMod != nil {
		lm := lastModifiedReport(rv.lastMod)
		rr.LastModified = &lm
	}
	return rr
}

func lastModifiedReport(s *docStat) LastModifiedReport {
	return LastModifiedReport{Field: s.name, Moved: s.moved, Stuck: s.stuck, Kept: s.kept, Touched: s.touched}
}
