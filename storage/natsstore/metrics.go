package natsstore

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-webhooks/caddy-webhooks/internal/metricsreg"
)

// The backend's metrics, created once for the process and registered on
// every registry Caddy makes (one per config load), so counts survive
// reloads.
var (
	publishDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "nats_publish_duration_seconds",
		Help:    "Time from sending a batch of records (a commit, a replay) to the NATS cluster to its acknowledgement by a majority of the replicas.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
	})
	publishErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "nats_publish_errors_total",
		Help: "Batches the NATS cluster did not store, by reason: unavailable (no answer, no quorum), conflict (a resource's state changed under its lock), refused (any other error).",
	}, []string{"reason"})
)

// registerMetrics adds the collectors to reg, once per registry.
func registerMetrics(reg *prometheus.Registry) {
	metricsreg.Register(reg, publishDuration, publishErrors)
}

// observePublish records a batch's outcome.
func observePublish(start time.Time, err error) {
	switch {
	case err == nil:
		publishDuration.Observe(time.Since(start).Seconds())
	case errors.Is(err, errConflict):
		publishErrors.WithLabelValues("conflict").Inc()
	case transient(err):
		publishErrors.WithLabelValues("unavailable").Inc()
	default:
		publishErrors.WithLabelValues("refused").Inc()
	}
}
