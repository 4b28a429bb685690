package crm

import (
	"net/http"
)

// Person is a contact, optionally working for an organisation.
type Person struct {
	ID             int     `json:"id"`
	FirstName      string  `json:"first_name"`
	LastName       string  `json:"last_name"`
	PersonalEmail  *string `json:"personal_email"` // unique, lower case
	PersonalPhone  *string `json:"personal_phone"`
	Role           *string `json:"role"` // job title: "Directeur des investissements"
	LinkedinURL    *string `json:"linkedin_url"`
	CountryCode    *string `json:"country_code"`
	Language       string  `json:"language"`
	OrganisationID *int    `json:"organisation_id"`
	CreatedAt      Time    `json:"created_at"`
	UpdatedAt      Time    `json:"updated_at"`
}

var personFields = []string{"first_name", "last_name", "personal_email", "personal_phone", "role", "linkedin_url", "country_code", "language", "organisation_id"}

func applyPerson(f *form, p *Person) []FieldError {
	f.allow(personFields...)
	if v, _ := f.str("first_name", field{required: true, max: 100}); v != nil {
		p.FirstName = *v
	}
	if v, _ := f.str("last_name", field{required: true, max: 100}); v != nil {
		p.LastName = *v
	}
	v, given := f.email("personal_email", field{nullable: true})
	setStr(&p.PersonalEmail, v, given)
	v, given = f.str("personal_phone", field{nullable: true, max: 50})
	setStr(&p.PersonalPhone, v, given)
	v, given = f.str("role", field{nullable: true, max: 255})
	setStr(&p.Role, v, given)
	v, given = f.str("linkedin_url", field{nullable: true, max: 255})
	setStr(&p.LinkedinURL, v, given)
	v, given = f.code("country_code", field{nullable: true}, 2, 2)
	setStr(&p.CountryCode, v, given)
	if v, _ := f.code("language", field{}, 2, 5); v != nil {
		p.Language = *v
	}
	id, given := f.id("organisation_id", field{nullable: true})
	setID(&p.OrganisationID, id, given)
	return f.errs
}

func (s *Server) people() *resource[Person] {
	return &resource[Person]{
		s: s, param: "person_id", what: "Personne", table: &s.db.people,
		apply: applyPerson,
		finish: func(_, p *Person, _ Time) error {
			if p.PersonalEmail != nil && *p.PersonalEmail != "" {
				for id, other := range s.db.people.rows {
					if id != p.ID && other.PersonalEmail != nil && *other.PersonalEmail == *p.PersonalEmail {
						return &conflictError{"Une personne avec l'email " + *p.PersonalEmail + " existe déjà"}
					}
				}
			}
			return s.db.checkRefs(p.OrganisationID, nil)
		},
		touch: func(p *Person, now Time) { p.UpdatedAt = now },
	}
}

// createPerson handles POST /api/v1/people: 201; 409 email taken; 422.
// A JSON array of people creates them all (batch.go).
func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) {
	now := newTime(s.now())
	s.people().post(w, r, Person{Language: "FR", CreatedAt: now, UpdatedAt: now}, func(p *Person, id int) { p.ID = id })
}

// listPeople handles GET /api/v1/people[?organisation_id=&skip=&limit=].
func (s *Server) listPeople(w http.ResponseWriter, r *http.Request) {
	org, ok := queryID(w, r, "organisation_id")
	if !ok {
		return
	}
	s.people().list(w, r, func(p *Person) bool {
		return org == 0 || (p.OrganisationID != nil && *p.OrganisationID == org)
	})
}

// getPerson handles GET /api/v1/people/{person_id}: 200; 404.
func (s *Server) getPerson(w http.ResponseWriter, r *http.Request) { s.people().get(w, r) }

// updatePerson handles PUT /api/v1/people/{person_id}: 200; 404; 409; 422.
func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request) { s.people().update(w, r) }

// deletePerson handles DELETE /api/v1/people/{person_id} (admins only):
// 204; tasks and interactions about the person stay, without person.
// 403; 404.
func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request) {
	if !adminOnly(w, r) {
		return
	}
	s.people().remove(w, r, s.unlinkPerson)
}

// unlinkPerson clears person id from the tasks and interactions about them
// (their updated_at stays), once the person is deleted. The caller holds
// the lock.
func (s *Server) unlinkPerson(id int) {
	d := s.db
	for tid, t := range d.tasks.rows {
		if t.PersonID != nil && *t.PersonID == id {
			c := *t
			c.PersonID = nil
			d.tasks.put(tid, c)
		}
	}
	for iid, i := range d.interactions.rows {
		if i.PersonID != nil && *i.PersonID == id {
			c := *i
			c.PersonID = nil
			d.interactions.put(iid, c)
		}
	}
}
