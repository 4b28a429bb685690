package crm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server is the CRM's HTTP API. Create it with New; it is an http.Handler
// and is safe for concurrent use.
type Server struct {
	mux   *http.ServeMux
	db    *db
	users map[int]User
	now   func() time.Time
}

// New returns a CRM with an empty in-memory database, the demo users
// (Users) and all routes mounted under /api/v1:
//
//	GET                       /api/v1/health                        (no authentication)
//	GET                       /api/v1/auth/me
//	GET, POST                 /api/v1/organisations
//	GET, PUT, DELETE          /api/v1/organisations/{organisation_id}
//	GET, POST, PATCH, DELETE  /api/v1/people                        (POST: one or a batch; PATCH, DELETE: batches)
//	GET, PUT, DELETE          /api/v1/people/{person_id}
//	GET, POST, PATCH          /api/v1/tasks                         (POST: one or a batch; PATCH: a batch)
//	GET, PUT, DELETE          /api/v1/tasks/{task_id}
//	POST                      /api/v1/tasks/{task_id}/quick-action
//	GET, POST                 /api/v1/mandats
//	GET, PUT, DELETE          /api/v1/mandats/{mandat_id}
//	GET                       /api/v1/interactions
//	POST                      /api/v1/interactions/organisation/{organisation_id}
//	GET, PUT, DELETE          /api/v1/interactions/{interaction_id}
//
// The batch routes are described in batch.go.
func New() *Server { return NewAt(time.Now) }

// NewAt is New with a clock: now gives the time of every change (tests
// use a stopped clock).
func NewAt(now func() time.Time) *Server {
	s := &Server{mux: http.NewServeMux(), db: newDB(), users: map[int]User{}, now: now}
	for _, u := range Users {
		s.users[u.ID] = u
	}
	m := s.mux
	m.HandleFunc("GET /api/v1/health", s.health)
	m.HandleFunc("GET /api/v1/auth/me", s.me)

	m.HandleFunc("GET /api/v1/organisations", s.listOrganisations)
	m.HandleFunc("POST /api/v1/organisations", s.createOrganisation)
	m.HandleFunc("GET /api/v1/organisations/{organisation_id}", s.getOrganisation)
	m.HandleFunc("PUT /api/v1/organisations/{organisation_id}", s.updateOrganisation)
	m.HandleFunc("DELETE /api/v1/organisations/{organisation_id}", s.deleteOrganisation)

	m.HandleFunc("GET /api/v1/people", s.listPeople)
	m.HandleFunc("POST /api/v1/people", s.createPerson)
	m.HandleFunc("PATCH /api/v1/people", s.updatePeople)
	m.HandleFunc("DELETE /api/v1/people", s.deletePeople)
	m.HandleFunc("GET /api/v1/people/{person_id}", s.getPerson)
	m.HandleFunc("PUT /api/v1/people/{person_id}", s.updatePerson)
	m.HandleFunc("DELETE /api/v1/people/{person_id}", s.deletePerson)

	m.HandleFunc("GET /api/v1/tasks", s.listTasks)
	m.HandleFunc("POST /api/v1/tasks", s.createTask)
	m.HandleFunc("PATCH /api/v1/tasks", s.updateTasks)
	m.HandleFunc("GET /api/v1/tasks/{task_id}", s.getTask)
	m.HandleFunc("PUT /api/v1/tasks/{task_id}", s.updateTask)
	m.HandleFunc("DELETE /api/v1/tasks/{task_id}", s.deleteTask)
	m.HandleFunc("POST /api/v1/tasks/{task_id}/quick-action", s.taskQuickAction)

	m.HandleFunc("GET /api/v1/mandats", s.listMandats)
	m.HandleFunc("POST /api/v1/mandats", s.createMandat)
	m.HandleFunc("GET /api/v1/mandats/{mandat_id}", s.getMandat)
	m.HandleFunc("PUT /api/v1/mandats/{mandat_id}", s.updateMandat)
	m.HandleFunc("DELETE /api/v1/mandats/{mandat_id}", s.deleteMandat)

	m.HandleFunc("GET /api/v1/interactions", s.listInteractions)
	m.HandleFunc("POST /api/v1/interactions/organisation/{organisation_id}", s.createInteraction)
	m.HandleFunc("GET /api/v1/interactions/{interaction_id}", s.getInteraction)
	m.HandleFunc("PUT /api/v1/interactions/{interaction_id}", s.updateInteraction)
	m.HandleFunc("DELETE /api/v1/interactions/{interaction_id}", s.deleteInteraction)
	return s
}

// ServeHTTP authenticates the request, then dispatches it. Every route
// but /api/v1/health needs X-User-Id naming a known user (else 401), and
// a viewer may only read (else 403). Unknown paths get the standard
// library's plain-text 404, wrong methods its 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v1/health" {
		s.mux.ServeHTTP(w, r)
		return
	}
	id, err := strconv.Atoi(strings.TrimSpace(r.Header.Get(UserHeader)))
	u, ok := s.users[id]
	if err != nil || !ok || !u.IsActive {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeDetail(w, http.StatusUnauthorized, "Not authenticated")
		return
	}
	if u.Role == RoleViewer && r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeDetail(w, http.StatusForbidden, "Permissions insuffisantes")
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
}

// HealthResponse is the body of GET /api/v1/health.
type HealthResponse struct {
	Status string `json:"status"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, HealthResponse{Status: "ok"})
}

// Page is the body of every list route, as the CRM's PaginatedResponse.
type Page[T any] struct {
	Total int `json:"total"`
	Skip  int `json:"skip"`
	Limit int `json:"limit"`
	Items []T `json:"items"`
}

// paginate applies ?skip= (default 0) and ?limit= (1 to 1000, default 100)
// to rows; it answers 422 itself when they are invalid.
func paginate[T any](w http.ResponseWriter, r *http.Request, rows []T) (Page[T], bool) {
	q := r.URL.Query()
	skip, limit := 0, 100
	var errs []FieldError
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, FieldError{Loc: []any{"query", "skip"}, Msg: "ensure this value is greater than or equal to 0", Type: "value_error.number.not_ge"})
		}
		skip = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, FieldError{Loc: []any{"query", "limit"}, Msg: "ensure this value is between 1 and 1000", Type: "value_error.number"})
		}
		limit = n
	}
	if errs != nil {
		writeInvalid(w, errs)
		return Page[T]{}, false
	}
	p := Page[T]{Total: len(rows), Skip: skip, Limit: limit, Items: []T{}}
	if skip < len(rows) {
		p.Items = rows[skip:min(len(rows), skip+limit)]
	}
	return p, true
}

// queryID reads an optional integer filter such as ?organisation_id=; it
// answers 422 itself when the value is not an integer.
func queryID(w http.ResponseWriter, r *http.Request, name string) (id int, ok bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		writeInvalid(w, []FieldError{{Loc: []any{"query", name}, Msg: "value is not a valid integer", Type: "type_error.integer"}})
		return 0, false
	}
	return n, true
}

// writeStoreError answers for an error of a database change: 404 for
// errNotFound (with notFound as the detail), 409, or 422.
func writeStoreError(w http.ResponseWriter, err error, notFound string) {
	var conflict *conflictError
	var invalid *invalidError
	switch {
	case errors.Is(err, errNotFound):
		if notFound == "" {
			notFound = "Not Found"
		}
		writeDetail(w, http.StatusNotFound, "%s", notFound)
	case errors.As(err, &conflict):
		writeDetail(w, http.StatusConflict, "%s", conflict.msg)
	case errors.As(err, &invalid):
		writeInvalid(w, []FieldError{{Loc: []any{"body", invalid.field}, Msg: invalid.msg, Type: "value_error.not_found"}})
	default:
		writeDetail(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
