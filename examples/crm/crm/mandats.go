package crm

import (
	"net/http"
)

// Mandat statuses, in their usual order.
const (
	MandatPropose = "proposé"
	MandatSigne   = "signé"
	MandatActif   = "actif"
	MandatTermine = "terminé"
)

var mandatStatuses = []string{MandatPropose, MandatSigne, MandatActif, MandatTermine}

// Mandat is a distribution mandate signed (or to be signed) with an
// organisation.
type Mandat struct {
	ID             int     `json:"id"`
	OrganisationID int     `json:"organisation_id"`
	NumeroMandat   *string `json:"numero_mandat"`
	Status         string  `json:"status"`         // proposé unless given
	DateSignature  *string `json:"date_signature"` // today when the mandat becomes signé without one
	DateDebut      *string `json:"date_debut"`
	DateFin        *string `json:"date_fin"`
	Notes          *string `json:"notes"`
	CreatedAt      Time    `json:"created_at"`
	UpdatedAt      Time    `json:"updated_at"`
}

var mandatFields = []string{"organisation_id", "numero_mandat", "status", "date_signature", "date_debut", "date_fin", "notes"}

func applyMandat(f *form, m *Mandat) []FieldError {
	f.allow(mandatFields...)
	if id, _ := f.id("organisation_id", field{required: true}); id != nil {
		m.OrganisationID = *id
	}
	v, given := f.str("numero_mandat", field{nullable: true, max: 50})
	setStr(&m.NumeroMandat, v, given)
	if v, _ := f.enum("status", field{}, mandatStatuses); v != nil {
		m.Status = *v
	}
	v, given = f.date("date_signature", field{nullable: true})
	setStr(&m.DateSignature, v, given)
	v, given = f.date("date_debut", field{nullable: true})
	setStr(&m.DateDebut, v, given)
	v, given = f.date("date_fin", field{nullable: true})
	setStr(&m.DateFin, v, given)
	v, given = f.str("notes", field{nullable: true})
	setStr(&m.Notes, v, given)
	return f.errs
}

func (s *Server) mandats() *resource[Mandat] {
	return &resource[Mandat]{
		s: s, param: "mandat_id", what: "Mandat", table: &s.db.mandats,
		apply: applyMandat,
		finish: func(_, m *Mandat, now Time) error {
			if m.DateDebut != nil && m.DateFin != nil && *m.DateFin < *m.DateDebut {
				return &invalidError{"date_fin", "date_fin doit être postérieure à date_debut"}
			}
			if m.Status == MandatSigne && m.DateSignature == nil {
				d := today(now.Time)
				m.DateSignature = &d
			}
			id := m.OrganisationID
			return s.db.checkRefs(&id, nil)
		},
		touch: func(m *Mandat, now Time) { m.UpdatedAt = now },
	}
}

// createMandat handles POST /api/v1/mandats: 201; 422 (unknown
// organisation included).
func (s *Server) createMandat(w http.ResponseWriter, r *http.Request) {
	now := newTime(s.now())
	s.mandats().create(w, r, Mandat{Status: MandatPropose, CreatedAt: now, UpdatedAt: now}, func(m *Mandat, id int) { m.ID = id })
}

// listMandats handles GET /api/v1/mandats[?organisation_id=&status=&skip=&limit=].
func (s *Server) listMandats(w http.ResponseWriter, r *http.Request) {
	org, ok := queryID(w, r, "organisation_id")
	if !ok {
		return
	}
	status := r.URL.Query().Get("status")
	s.mandats().list(w, r, func(m *Mandat) bool {
		return (org == 0 || m.OrganisationID == org) && (status == "" || m.Status == status)
	})
}

// getMandat handles GET /api/v1/mandats/{mandat_id}: 200; 404.
func (s *Server) getMandat(w http.ResponseWriter, r *http.Request) { s.mandats().get(w, r) }

// updateMandat handles PUT /api/v1/mandats/{mandat_id}: 200; 404; 422.
// This is how a mandat is signed: {"status": "signé"}.
func (s *Server) updateMandat(w http.ResponseWriter, r *http.Request) { s.mandats().update(w, r) }

// deleteMandat handles DELETE /api/v1/mandats/{mandat_id}: 204; 404.
func (s *Server) deleteMandat(w http.ResponseWriter, r *http.Request) { s.mandats().remove(w, r, nil) }
