package metricsreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRegisterTwice: registering the same collectors on a registry again
// (a reload) is harmless, and a nil registry is ignored.
func TestRegisterTwice(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "metricsreg_test_total", Help: "test"})
	reg := prometheus.NewRegistry()
	Register(reg, c)
	Register(reg, c)
	Register(nil, c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gathered %d families, %v; want the one counter", len(mfs), err)
	}
}
