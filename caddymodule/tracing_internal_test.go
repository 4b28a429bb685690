package caddymodule

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/tracing"
)

// TestHasTracing: a tracing handler is found in a route, in a subroute
// (handle, route) however deep, and in a subroute's error routes; routes
// with other handlers have none.
func TestHasTracing(t *testing.T) {
	route := func(h ...caddyhttp.MiddlewareHandler) caddyhttp.Route { return caddyhttp.Route{Handlers: h} }
	sub := func(routes ...caddyhttp.Route) *caddyhttp.Subroute { return &caddyhttp.Subroute{Routes: routes} }
	other := &headers.Handler{}
	cases := map[string]struct {
		routes caddyhttp.RouteList
		want   bool
	}{
		"none":         {caddyhttp.RouteList{route(other), route(sub(route(other)))}, false},
		"top level":    {caddyhttp.RouteList{route(other, &tracing.Tracing{})}, true},
		"nested":       {caddyhttp.RouteList{route(other), route(sub(route(sub(route(&tracing.Tracing{})))))}, true},
		"error routes": {caddyhttp.RouteList{route(&caddyhttp.Subroute{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{route(&tracing.Tracing{})}}})}, true},
		"empty":        {nil, false},
	}
	for name, c := range cases {
		if got := hasTracing(c.routes); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

// TestTracingOption: the `tracing` option decides over the handlers (the
// config's http app is not even looked at).
func TestTracingOption(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		opt  *bool
		want bool
	}{{&on, true}, {&off, false}, {nil, false}} {
		a := &App{Tracing: c.opt}
		if got := a.tracingWanted(caddy.Context{}); got != c.want {
			t.Errorf("tracing %v: %v, want %v", c.opt, got, c.want)
		}
	}
}
