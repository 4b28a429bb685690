package crm

import (
	"net/http"
)

var interactionTypes = []string{"call", "email", "meeting", "webinar", "note", "other"}

// Interaction is a call, meeting, email… with an organisation (and
// perhaps one of its people).
type Interaction struct {
	ID             int     `json:"id"`
	OrganisationID int     `json:"organisation_id"`
	PersonID       *int    `json:"person_id"`
	Type           string  `json:"type"`
	Subject        string  `json:"subject"`
	Notes          *string `json:"notes"`
	Date           string  `json:"date"` // today unless given
	CreatedBy      int     `json:"created_by"`
	CreatedAt      Time    `json:"created_at"`
	UpdatedAt      Time    `json:"updated_at"`
}

var interactionFields = []string{"person_id", "type", "subject", "notes", "date"}

func applyInteraction(f *form, i *Interaction) []FieldError {
	f.allow(interactionFields...)
	id, given := f.id("person_id", field{nullable: true})
	setID(&i.PersonID, id, given)
	if v, _ := f.enum("type", field{required: true}, interactionTypes); v != nil {
		i.Type = *v
	}
	if v, _ := f.str("subject", field{required: true, max: 255}); v != nil {
		i.Subject = *v
	}
	v, given := f.str("notes", field{nullable: true})
	setStr(&i.Notes, v, given)
	if v, _ := f.date("date", field{}); v != nil {
		i.Date = *v
	}
	return f.errs
}

func (s *Server) interactions() *resource[Interaction] {
	return &resource[Interaction]{
		s: s, param: "interaction_id", what: "Interaction", table: &s.db.interactions,
		apply: applyInteraction,
		finish: func(old, i *Interaction, _ Time) error {
			if _, ok := s.db.orgs.rows[i.OrganisationID]; !ok && old == nil {
				return errNotFound // deleted since createInteraction looked
			}
			return s.db.checkRefs(nil, i.PersonID)
		},
		touch: func(i *Interaction, now Time) { i.UpdatedAt = now },
	}
}

// createInteraction handles POST
// /api/v1/interactions/organisation/{organisation_id}: 201; 404 unknown
// organisation; 422.
func (s *Server) createInteraction(w http.ResponseWriter, r *http.Request) {
	org, ok := pathID(w, r, "organisation_id")
	if !ok {
		return
	}
	var found bool
	_ = s.db.tx(func() error {
		_, found = s.db.orgs.rows[org]
		return nil
	})
	if !found {
		writeDetail(w, http.StatusNotFound, "Organisation %d introuvable", org)
		return
	}
	now := newTime(s.now())
	s.interactions().create(w, r, Interaction{OrganisationID: org, Date: today(now.Time), CreatedBy: user(r).ID, CreatedAt: now, UpdatedAt: now},
		func(i *Interaction, id int) { i.ID = id })
}

// listInteractions handles GET /api/v1/interactions[?organisation_id=&skip=&limit=].
func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request) {
	org, ok := queryID(w, r, "organisation_id")
	if !ok {
		return
	}
	s.interactions().list(w, r, func(i *Interaction) bool { return org == 0 || i.OrganisationID == org })
}

// getInteraction handles GET /api/v1/interactions/{interaction_id}: 200; 404.
func (s *Server) getInteraction(w http.ResponseWriter, r *http.Request) { s.interactions().get(w, r) }

// updateInteraction handles PUT /api/v1/interactions/{interaction_id}: 200; 404; 422.
func (s *Server) updateInteraction(w http.ResponseWriter, r *http.Request) {
	s.interactions().update(w, r)
}

// deleteInteraction handles DELETE /api/v1/interactions/{interaction_id}: 204; 404.
func (s *Server) deleteInteraction(w http.ResponseWriter, r *http.Request) {
	s.interactions().remove(w, r, nil)
}
