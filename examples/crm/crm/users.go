package crm

import "net/http"

// UserHeader is the request header in which the single sign-on gateway in
// front of the CRM passes the signed-in user's id. The gateway must
// overwrite any value the client sent.
const UserHeader = "X-User-Id"

// Roles.
const (
	RoleAdmin  = "admin"  // everything
	RoleSales  = "sales"  // everything but deleting organisations and people
	RoleViewer = "viewer" // reading only
)

// User is a CRM user, as GET /api/v1/auth/me shows it.
type User struct {
	ID       int    `json:"id"`
	Email    string `json:"email"`
	FullName string `json:"full_name"`
	Role     string `json:"role"`
	IsActive bool   `json:"is_active"`
}

// Users are the CRM's users (the demo has no user management).
var Users = []User{
	{ID: 1, Email: "admin@alforis.fr", FullName: "Admin Alforis", Role: RoleAdmin, IsActive: true},
	{ID: 12, Email: "marie.durand@alforis.fr", FullName: "Marie Durand", Role: RoleSales, IsActive: true},
	{ID: 30, Email: "paul.martin@alforis.fr", FullName: "Paul Martin", Role: RoleViewer, IsActive: true},
	{ID: 41, Email: "ancien.commercial@alforis.fr", FullName: "Ancien Commercial", Role: RoleSales, IsActive: false},
}

// userKey is the context key of the authenticated User.
type userKey struct{}

// user returns the authenticated user of r.
func user(r *http.Request) User {
	u, _ := r.Context().Value(userKey{}).(User)
	return u
}

// me handles GET /api/v1/auth/me.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, user(r))
}

// adminOnly answers 403 unless the user is an admin.
func adminOnly(w http.ResponseWriter, r *http.Request) bool {
	if user(r).Role != RoleAdmin {
		writeDetail(w, http.StatusForbidden, "Permissions insuffisantes")
		return false
	}
	return true
}
