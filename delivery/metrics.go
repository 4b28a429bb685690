package delivery

import "github.com/prometheus/client_golang/prometheus"

// The delivery metrics are created once for the process; the Caddy module
// registers them on every registry Caddy makes.
var (
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "deliveries_total",
		Help: "Delivery attempts by result: delivered, retried (will be tried again), failed (final).",
	}, []string{"result"})
	deliveryDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "delivery_duration_seconds",
		Help:    "Duration of delivery attempts.",
		Buckets: prometheus.DefBuckets,
	})
	queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "webhooks", Name: "queue_depth",
		Help: "Pending deliveries.",
	})
)

// Collectors returns the delivery metrics.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{deliveries, deliveryDuration, queueDepth}
}
