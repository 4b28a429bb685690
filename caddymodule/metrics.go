package caddymodule

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-webhooks/caddy-webhooks/delivery"
	"github.com/caddy-webhooks/caddy-webhooks/internal/metricsreg"
)

// metrics are created once for the process and registered on every registry
// Caddy makes (one per config load), so counts survive reloads.
var metrics = struct {
	events  *prometheus.CounterVec
	skipped *prometheus.CounterVec
}{
	events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "events_total",
		Help: "Events inferred from traffic and stored, by event name.",
	}, []string{"event"}),
	skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "events_skipped_total",
		Help: "Events a rule matched but could not produce, by reason.",
	}, []string{"reason"}),
}

// storeDegraded is 1 while a store takes no writes (its disk is short of
// space, or it could not be opened for that reason), else 0.
var storeDegraded = prometheus.NewGauge(prometheus.GaugeOpts{
	Namespace: "caddy", Subsystem: "webhooks", Name: "store_degraded",
	Help: "1 while the webhooks store takes no writes (disk short of space), else 0.",
})

// registerMetrics adds the collectors to reg, once per registry.
func registerMetrics(reg *prometheus.Registry) {
	metricsreg.Register(reg, append([]prometheus.Collector{metrics.events, metrics.skipped, storeDegraded}, delivery.Collectors()...)...)
}
