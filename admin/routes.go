package admin

import (
	"net/http"
	"strings"
)

// maxBody caps admin request bodies.
const maxBody = 1 << 20

// route is one path of the API with a handler per method.
type route struct {
	path    string
	methods map[string]http.HandlerFunc
}

var routes = []route{
	{"/webhooks/subscriptions", map[string]http.HandlerFunc{
		http.MethodGet:  withApp(listSubscriptions),
		http.MethodPost: withApp(createSubscription),
	}},
	{"/webhooks/subscriptions/{id}", map[string]http.HandlerFunc{
		http.MethodGet:    withApp(getSubscription),
		http.MethodPut:    withApp(updateSubscription),
		http.MethodPatch:  withApp(updateSubscription),
		http.MethodDelete: withApp(deleteSubscription),
	}},
	{"/webhooks/subscriptions/{id}/rotate-secret", map[string]http.HandlerFunc{
		http.MethodPost: withApp(rotateSecret),
	}},
	{"/webhooks/subscriptions/{id}/test", map[string]http.HandlerFunc{
		http.MethodPost: withApp(testSubscription),
	}},
	{"/webhooks/subscriptions/{id}/deliveries", map[string]http.HandlerFunc{
		http.MethodGet: withApp(listDeliveries),
	}},
	{"/webhooks/subscriptions/{id}/replay", map[string]http.HandlerFunc{
		http.MethodPost: withApp(replay),
	}},
	{"/webhooks/deliveries/{id}/redeliver", map[string]http.HandlerFunc{
		http.MethodPost: withApp(redeliver),
	}},
	{"/webhooks/transform/preview", map[string]http.HandlerFunc{http.MethodPost: withApp(previewTransform)}},
	{"/webhooks/events", map[string]http.HandlerFunc{http.MethodGet: withApp(listEvents)}},
	{"/webhooks/events/available", map[string]http.HandlerFunc{http.MethodGet: withApp(listEvents)}},
	{"/webhooks/events/recent", map[string]http.HandlerFunc{http.MethodGet: withApp(listRecentEvents)}},
	{"/webhooks/stats", map[string]http.HandlerFunc{http.MethodGet: withRunningApp(stats)}},
	{"/webhooks/learn", map[string]http.HandlerFunc{
		http.MethodGet:    withLearner(learned),
		http.MethodDelete: withLearner(forget),
	}},
	{"/webhooks/learn/rules.yaml", map[string]http.HandlerFunc{http.MethodGet: withLearner(proposal)}},
	// The management page: static files, served even when no webhooks app
	// runs (the page then shows the API's 503).
	{"/webhooks/ui", map[string]http.HandlerFunc{http.MethodGet: redirectUI}},
	{uiPrefix, map[string]http.HandlerFunc{http.MethodGet: serveUI}},
}

// newRouter registers each route's methods on a ServeMux, plus a catch-all
// per path that answers 405 in the API's JSON error format (the mux's own
// 405 is plain text), and a catch-all 404 for unknown paths.
func newRouter() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		var allowed []string
		for method, h := range rt.methods {
			mux.HandleFunc(method+" "+rt.path, h)
			allowed = append(allowed, method)
		}
		if rt.methods[http.MethodGet] != nil {
			allowed = append(allowed, http.MethodHead) // the mux serves HEAD with GET
		}
		allow := strings.Join(sortedMethods(allowed), ", ")
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+"; allowed: "+allow, nil)
		})
	}
	mux.HandleFunc("/webhooks/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path, nil)
	})
	return mux
}

// sortedMethods orders methods as people read them.
func sortedMethods(ms []string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		for _, x := range ms {
			if x == m {
				out = append(out, m)
			}
		}
	}
	return out
}
