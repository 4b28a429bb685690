package crm

import (
	"net/http"
	"strings"
)

// Organisation categories.
var organisationCategories = []string{"Institution", "Wholesale", "SDG", "CGPI", "Autres"}

// Organisation is an investor or distributor the team works with.
type Organisation struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	Category    string   `json:"category"`
	CountryCode *string  `json:"country_code"` // ISO 3166 alpha-2, upper case
	Language    string   `json:"language"`     // "FR" unless given
	Website     *string  `json:"website"`
	Email       *string  `json:"email"`
	Phone       *string  `json:"phone"`
	AUM         *float64 `json:"aum"` // assets under management, in EUR
	Notes       *string  `json:"notes"`
	IsActive    bool     `json:"is_active"`
	CreatedBy   int      `json:"created_by"`
	CreatedAt   Time     `json:"created_at"`
	UpdatedAt   Time     `json:"updated_at"`
}

var organisationFields = []string{"name", "category", "country_code", "language", "website", "email", "phone", "aum", "notes", "is_active"}

// applyOrganisation reads an organisation body into o (all fields on
// create, the given ones on update) and returns the form's errors.
func applyOrganisation(f *form, o *Organisation) []FieldError {
	f.allow(organisationFields...)
	if v, _ := f.str("name", field{required: true, max: 255}); v != nil {
		o.Name = *v
	}
	if v, _ := f.enum("category", field{required: true}, organisationCategories); v != nil {
		o.Category = *v
	}
	v, given := f.code("country_code", field{nullable: true}, 2, 2)
	setStr(&o.CountryCode, v, given)
	if v, _ := f.code("language", field{}, 2, 5); v != nil {
		o.Language = *v
	}
	v, given = f.str("website", field{nullable: true, max: 255})
	setStr(&o.Website, v, given)
	v, given = f.email("email", field{nullable: true})
	setStr(&o.Email, v, given)
	v, given = f.str("phone", field{nullable: true, max: 50})
	setStr(&o.Phone, v, given)
	if x, given := f.num("aum", field{nullable: true}); x != nil || given {
		o.AUM = x
	}
	v, given = f.str("notes", field{nullable: true})
	setStr(&o.Notes, v, given)
	if b, _ := f.boolean("is_active", field{}); b != nil {
		o.IsActive = *b
	}
	return f.errs
}

// checkOrganisationName returns a conflictError when another organisation
// has the same name (case and spaces aside). The caller holds the lock.
func (d *db) checkOrganisationName(o *Organisation) error {
	for id, other := range d.orgs.rows {
		if id != o.ID && strings.EqualFold(other.Name, o.Name) {
			return &conflictError{"Une organisation nommée '" + other.Name + "' existe déjà"}
		}
	}
	return nil
}

// organisations returns the organisation routes' resource.
func (s *Server) organisations() *resource[Organisation] {
	return &resource[Organisation]{
		s: s, param: "organisation_id", what: "Organisation", table: &s.db.orgs,
		apply: applyOrganisation,
		finish: func(_, o *Organisation, _ Time) error {
			return s.db.checkOrganisationName(o)
		},
		touch: func(o *Organisation, now Time) { o.UpdatedAt = now },
	}
}

// createOrganisation handles POST /api/v1/organisations: 201 with the
// organisation; 422 invalid body; 409 name taken.
func (s *Server) createOrganisation(w http.ResponseWriter, r *http.Request) {
	now := newTime(s.now())
	s.organisations().create(w, r, Organisation{Language: "FR", IsActive: true, CreatedBy: user(r).ID, CreatedAt: now, UpdatedAt: now},
		func(o *Organisation, id int) { o.ID = id })
}

// listOrganisations handles GET /api/v1/organisations[?category=&country_code=&skip=&limit=].
func (s *Server) listOrganisations(w http.ResponseWriter, r *http.Request) {
	category, country := r.URL.Query().Get("category"), strings.ToUpper(r.URL.Query().Get("country_code"))
	s.organisations().list(w, r, func(o *Organisation) bool {
		return (category == "" || o.Category == category) &&
			(country == "" || (o.CountryCode != nil && *o.CountryCode == country))
	})
}

// getOrganisation handles GET /api/v1/organisations/{organisation_id}: 200; 404.
func (s *Server) getOrganisation(w http.ResponseWriter, r *http.Request) {
	s.organisations().get(w, r)
}

// updateOrganisation handles PUT /api/v1/organisations/{organisation_id}:
// 200 with the organisation; 404; 409 name taken; 422.
func (s *Server) updateOrganisation(w http.ResponseWriter, r *http.Request) {
	s.organisations().update(w, r)
}

// deleteOrganisation handles DELETE /api/v1/organisations/{organisation_id}
// (admins only): 204, no body. Its mandats and interactions go with it;
// its people and tasks stay, without organisation. 403; 404.
func (s *Server) deleteOrganisation(w http.ResponseWriter, r *http.Request) {
	if !adminOnly(w, r) {
		return
	}
	s.organisations().remove(w, r, func(id int) {
		d := s.db
		for mid, m := range d.mandats.rows {
			if m.OrganisationID == id {
				delete(d.mandats.rows, mid)
			}
		}
		for iid, i := range d.interactions.rows {
			if i.OrganisationID == id {
				delete(d.interactions.rows, iid)
			}
		}
		for pid, p := range d.people.rows {
			if p.OrganisationID != nil && *p.OrganisationID == id {
				c := *p
				c.OrganisationID = nil
				d.people.put(pid, c)
			}
		}
		for tid, t := range d.tasks.rows {
			if t.OrganisationID != nil && *t.OrganisationID == id {
				c := *t
				c.OrganisationID = nil
				d.tasks.put(tid, c)
			}
		}
	})
}
