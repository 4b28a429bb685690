package caddymodule

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/delivery"
)

// tracingModule is the module ID of Caddy's `tracing` handler.
const tracingModule = "http.handlers.tracing"

// tracerProvider is the process's provider of delivery spans, shared by
// the configs that trace and shut down (flushed) when the last one is
// cleaned up: a reload, which starts the new config before cleaning up
// the old, keeps it. Caddy's tracing module keeps its own provider in a
// package variable of its own, out of reach; this one is built the same
// way, so that it exports where Caddy's does.
var tracerProvider struct {
	mu    sync.Mutex
	tp    *sdktrace.TracerProvider
	users int
}

// acquireTracer returns the delivery tracer, creating the provider if no
// config holds it: an exporter from the OTEL_* environment (autoexport:
// OTLP by default, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, …)
// and the resource of Caddy's tracing spans (OTEL_SERVICE_NAME, Caddy and
// its version).
func acquireTracer(ctx context.Context) (trace.Tracer, error) {
	tracerProvider.mu.Lock()
	defer tracerProvider.mu.Unlock()
	if tracerProvider.tp == nil {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating the trace exporter: %w", err)
		}
		version, _ := caddy.Version()
		res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
			semconv.WebEngineName(caddyhttp.ServerHeader), semconv.WebEngineVersion(version)))
		if err != nil {
			return nil, fmt.Errorf("creating the trace resource: %w", err)
		}
		tracerProvider.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	}
	tracerProvider.users++
	return tracerProvider.tp.Tracer(delivery.TracerName), nil
}

// tracerShutdownWait bounds the flush of the spans when the last config
// that traces is cleaned up.
const tracerShutdownWait = 5 * time.Second

// releaseTracer gives up a config's use of the provider; the last user
// flushes the spans still buffered and shuts it down.
func releaseTracer(logger *zap.Logger) {
	tracerProvider.mu.Lock()
	defer tracerProvider.mu.Unlock()
	if tracerProvider.users--; tracerProvider.users > 0 {
		return
	}
	// Shutdown flushes the spans first: bounded, so that a collector out
	// of reach cannot hold up a reload or Caddy's exit.
	ctx, cancel := context.WithTimeout(context.Background(), tracerShutdownWait)
	defer cancel()
	if err := tracerProvider.tp.Shutdown(ctx); err != nil {
		logger.Error("shutting down the delivery tracer", zap.Error(err))
	}
	tracerProvider.tp = nil
}

// tracingWanted says whether this config makes delivery attempts spans:
// as its `tracing` option says, else when the http app has a `tracing`
// handler (in a server's routes, error routes or named routes, or the
// subroutes of `handle`, `route` and the like).
func (a *App) tracingWanted(ctx caddy.Context) bool {
	if a.Tracing != nil {
		return *a.Tracing
	}
	app, err := ctx.AppIfConfigured("http")
	if err != nil {
		return false
	}
	httpApp, ok := app.(*caddyhttp.App)
	if !ok {
		return false
	}
	for _, srv := range httpApp.Servers {
		if hasTracing(srv.Routes) || (srv.Errors != nil && hasTracing(srv.Errors.Routes)) {
			return true
		}
		for _, r := range srv.NamedRoutes {
			if r != nil && hasTracing(caddyhttp.RouteList{*r}) {
				return true
			}
		}
	}
	return false
}

// hasTracing says whether routes, or their subroutes, have a tracing
// handler.
func hasTracing(routes caddyhttp.RouteList) bool {
	for _, r := range routes {
		for _, h := range r.Handlers {
			if caddy.GetModuleID(h) == tracingModule {
				return true
			}
			if sr, ok := h.(*caddyhttp.Subroute); ok && (hasTracing(sr.Routes) || (sr.Errors != nil && hasTracing(sr.Errors.Routes))) {
				return true
			}
		}
	}
	return false
}

// startTracing takes the delivery tracer when this config traces.
func (a *App) startTracing() error {
	if a.ctx.Context == nil || !a.tracingWanted(a.ctx) {
		return nil
	}
	// Not the config's context: the provider outlives the config.
	tracer, err := acquireTracer(context.Background())
	if err != nil {
		return fmt.Errorf("webhooks: tracing: %w", err)
	}
	a.tracer = tracer
	return nil
}

// stopTracing gives the tracer back, once.
func (a *App) stopTracing() {
	if a.tracer != nil && a.tracerReleased.CompareAndSwap(false, true) {
		releaseTracer(a.logger)
	}
}
