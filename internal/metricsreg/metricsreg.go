// Package metricsreg registers a module's Prometheus collectors on the
// registries Caddy makes, one per config load: the collectors are created
// once for the process, so their counts survive reloads.
package metricsreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds the collectors to reg (nil: none), each once per registry.
func Register(reg *prometheus.Registry, collectors ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err) // a programming error: two collectors with one name
			}
		}
	}
}
