package shop

import (
	"net/http"
	"time"
)

// Server is the shop's HTTP API. Create it with New; it is an http.Handler
// and is safe for concurrent use.
type Server struct {
	mux   *http.ServeMux
	store *store
	now   func() time.Time
}

// New returns a shop with an empty in-memory store and all routes mounted:
//
//	GET        /api/health
//	POST       /api/orders
//	GET        /api/orders[?status=…]
//	GET        /api/orders/{id}
//	PUT, PATCH /api/orders/{id}/status
//	POST       /api/webhooks/stripe
//	POST       /api/customers
//	GET        /api/customers
//	GET, PUT   /api/customers/{id}
func New() *Server {
	s := &Server{
		mux:   http.NewServeMux(),
		store: newStore(),
		now:   time.Now,
	}
	s.mux.HandleFunc("GET /api/health", s.health)

	s.mux.HandleFunc("POST /api/orders", s.createOrder)
	s.mux.HandleFunc("GET /api/orders", s.listOrders)
	s.mux.HandleFunc("GET /api/orders/{id}", s.getOrder)
	s.mux.HandleFunc("PUT /api/orders/{id}/status", s.updateOrderStatus)
	s.mux.HandleFunc("PATCH /api/orders/{id}/status", s.updateOrderStatus)

	s.mux.HandleFunc("POST /api/webhooks/stripe", s.stripeWebhook)

	s.mux.HandleFunc("POST /api/customers", s.createCustomer)
	s.mux.HandleFunc("GET /api/customers", s.listCustomers)
	s.mux.HandleFunc("GET /api/customers/{id}", s.getCustomer)
	s.mux.HandleFunc("PUT /api/customers/{id}", s.updateCustomer)
	return s
}

// ServeHTTP dispatches a request to the shop's routes. Unknown paths get
// the standard library's plain-text 404, wrong methods its 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// HealthResponse is the body of GET /api/health.
type HealthResponse struct {
	OK bool `json:"ok"`
}

// health handles GET /api/health: 200 {"ok":true}.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, HealthResponse{OK: true})
}
