package natsstore

import (
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// clusterView is what this node sees of the cluster, for Health: updated
// by the health probe (the round trip is a request) and by the fsync
// check at start, read without blocking.
type clusterView struct {
	replicas   int
	syncAlways atomic.Pointer[bool] // nil: not known
	last       atomic.Pointer[webhook.ClusterHealth]
}

// observe records the connection's state and its round trip.
func (v *clusterView) observe(nc *nats.Conn) {
	ch := &webhook.ClusterHealth{
		Connected: nc.Status() == nats.CONNECTED,
		Name:      nc.ConnectedClusterName(),
		Replicas:  v.replicas,
	}
	if ch.Connected {
		ch.Server = redact(nc.ConnectedUrl())
		if rtt, err := nc.RTT(); err == nil {
			ch.RTTMillis = float64(rtt.Microseconds()) / 1000
		}
	}
	for _, u := range nc.Servers() {
		ch.Servers = append(ch.Servers, redact(u))
	}
	v.last.Store(ch)
}

// noteSync records the servers' fsync setting; a report with no answer
// leaves it unknown.
func (v *clusterView) noteSync(r syncReport, err error) {
	if err != nil || len(r.Always)+len(r.Not) == 0 {
		return
	}
	always := len(r.Not) == 0
	v.syncAlways.Store(&always)
}

// get returns a copy of the last view, or nil before the first probe.
func (v *clusterView) get() *webhook.ClusterHealth {
	last := v.last.Load()
	if last == nil {
		return nil
	}
	ch := *last
	ch.SyncAlways = v.syncAlways.Load()
	return &ch
}
