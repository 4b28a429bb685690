package shop

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Customer is a customer document as the shop stores and returns it.
// Like many legacy apps it carelessly returns its PasswordHash; removing
// it from webhooks is the rules' job (see redact in ../rules.yaml).
type Customer struct {
	ID           string `json:"_id"`
	Email        string `json:"email"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	Phone        string `json:"phone"`
	Site         string `json:"site,omitempty"`
	PasswordHash string `json:"passwordHash"`
	CreatedAt    Time   `json:"createdAt"`
	UpdatedAt    Time   `json:"updatedAt"`
}

// createCustomerRequest is the body of POST /api/customers.
type createCustomerRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Phone     string `json:"phone"`
	Site      string `json:"site"`
}

// updatableCustomerFields are the only keys PUT /api/customers/{id} accepts.
var updatableCustomerFields = []string{"email", "firstName", "lastName", "phone"}

// hashPassword returns the hex SHA-256 of a password. It is a demo: a real
// app must use a slow, salted hash such as bcrypt or argon2.
func hashPassword(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// createCustomer handles POST /api/customers: 201 with the new customer,
// 400 without email or password, 409 when the email is taken.
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req createCustomerRequest
	if err := readJSON(w, r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	email := normalizeEmail(req.Email)
	switch {
	case email == "":
		writeError(w, http.StatusBadRequest, "email is required")
		return
	case !validEmail(email):
		writeError(w, http.StatusBadRequest, "email is invalid")
		return
	case req.Password == "":
		writeError(w, http.StatusBadRequest, "password is required")
		return
	}
	now := s.now()
	ts := newTime(now)
	c, err := s.store.insertCustomer(&Customer{
		ID:           newObjectID(now),
		Email:        email,
		FirstName:    strings.TrimSpace(req.FirstName),
		LastName:     strings.TrimSpace(req.LastName),
		Phone:        strings.TrimSpace(req.Phone),
		Site:         strings.TrimSpace(req.Site),
		PasswordHash: hashPassword(req.Password),
		CreatedAt:    ts,
		UpdatedAt:    ts,
	})
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// listCustomers handles GET /api/customers: 200 with an array, oldest first.
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.store.listCustomers())
}

// getCustomer handles GET /api/customers/{id}: 200 with the customer, or 404.
func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.customer(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "customer not found")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// updateCustomer handles PUT /api/customers/{id}. The body is any non-empty
// subset of email, firstName, lastName and phone, all strings; other keys
// are a 400. Answers 200 with the whole updated customer, 404 for an
// unknown id, 409 when the new email belongs to another customer.
func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := readJSON(w, r, &body, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "no fields to update: send any of email, firstName, lastName, phone")
		return
	}
	fields := make(map[string]string, len(body))
	for key, raw := range body {
		if !slices.Contains(updatableCustomerFields, key) {
			errorf(w, http.StatusBadRequest, "unknown field %q: only email, firstName, lastName, phone can be updated", key)
			return
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
			errorf(w, http.StatusBadRequest, "%s must be a string", key)
			return
		}
		fields[key] = strings.TrimSpace(v)
	}
	if email, ok := fields["email"]; ok {
		email = normalizeEmail(email)
		if !validEmail(email) {
			writeError(w, http.StatusBadRequest, "email is invalid")
			return
		}
		fields["email"] = email
	}
	now := newTime(s.now())
	c, err := s.store.updateCustomer(r.PathValue("id"), func(c *Customer) {
		for key, v := range fields {
			switch key {
			case "email":
				c.Email = v
			case "firstName":
				c.FirstName = v
			case "lastName":
				c.LastName = v
			case "phone":
				c.Phone = v
			}
		}
		c.UpdatedAt = now
	})
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "customer not found")
	case err != nil:
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeJSON(w, http.StatusOK, c)
	}
}
