// Package admin serves the `admin.api.webhooks` routes on Caddy's admin
// endpoint: subscriptions, deliveries, the event catalogue, queue stats and
// the management page that uses them (docs/admin-api.md, docs/management-page.md).
package admin

import (
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(Admin{})
}

// Admin is the admin.api.webhooks module. Caddy builds admin routers afresh
// on every config load and gives them no access to apps, so the handlers
// find the running webhooks app at request time.
type Admin struct{}

// CaddyModule returns the Caddy module information.
func (Admin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.webhooks",
		New: func() caddy.Module { return new(Admin) },
	}
}

// Routes returns the admin routes: everything under /webhooks/.
func (Admin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{
		Pattern: "/webhooks/",
		Handler: caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			router().ServeHTTP(w, r)
			return nil
		}),
	}}
}

// router is built once: the routes are the same for every config.
var router = sync.OnceValue(newRouter)

// Interface guard
var _ caddy.AdminRouter = Admin{}
