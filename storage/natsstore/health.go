package natsstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// probeEvery is how often the health probe asks JetStream for the
// account's info; a change of the connection's status probes at once.
const probeEvery = 2 * time.Second

// failoverWait is how long, from the moment the store finds the cluster
// out of reach, its calls wait for it to come back before they fail: a
// server's restart, a reconnection or a leader election delays the
// requests of that moment rather than losing their events, and a cluster
// out of reach for longer fails calls at once, so that the proxied
// clients are not held. NATS's Raft followers call an election 4-9 s after
// the leader's last heartbeat (nats-server v2.15 raft.go); on a loaded
// machine a stream had a new leader 13 s after its leader was killed, so
// 10 s skipped events a failover should have delayed.
const failoverWait = 20 * time.Second

// healthState is the store's health, as last probed.
type healthState struct {
	mu       sync.Mutex
	h        webhook.Health
	onChange func(webhook.Health)
	now      func() time.Time // time.Now; a test's clock
	failover time.Duration    // failoverWait; a test's
}

func newHealthState(onChange func(webhook.Health)) *healthState {
	return &healthState{h: webhook.Health{Status: "ok"}, onChange: onChange, now: time.Now, failover: failoverWait}
}

// ready returns nil once the store takes writes. While it has been
// degraded for less than the failover wait it waits (polling: a probe
// sets the health), then fails with an error matching
// webhook.ErrUnavailable; it fails at once after that.
func (hs *healthState) ready(ctx context.Context) error {
	for {
		h := hs.get()
		if !h.Degraded() {
			return nil
		}
		left := h.Since.Add(hs.failover).Sub(hs.now())
		if left <= 0 {
			return webhook.UnavailableError("storage nats: " + h.Reason)
		}
		t := time.NewTimer(min(left, readyPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// readyPoll is how often ready looks at the health again.
const readyPoll = 20 * time.Millisecond

func (hs *healthState) get() webhook.Health {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.h
}

// set records a probe's outcome (reason "" is ok) and tells onChange of
// a change of status.
func (hs *healthState) set(reason string) {
	hs.mu.Lock()
	was := hs.h
	switch {
	case reason == "":
		hs.h = webhook.Health{Status: "ok"}
	case was.Degraded():
		hs.h.Reason = reason
	default:
		hs.h = webhook.Health{Status: "degraded", Reason: reason, Since: hs.now().UTC()}
	}
	now, changed := hs.h, was.Status != hs.h.Status
	hs.mu.Unlock()
	if changed && hs.onChange != nil {
		hs.onChange(now)
	}
}

// probe checks the connection and JetStream every probeEvery and on every
// change of the connection's status, and tells observe of the connection,
// until the returned stop is called.
func (hs *healthState) probe(nc *nats.Conn, ledger jetstream.Stream, logger *zap.Logger, observe func(*nats.Conn)) (stop func()) {
	changed := nc.StatusChanged()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-changed:
			case <-t.C:
			}
			reason := check(nc, ledger)
			observe(nc)
			if was := hs.get(); reason != was.Reason && reason != "" {
				logger.Warn("NATS storage degraded", zap.String("reason", reason))
			} else if reason == "" && was.Degraded() {
				logger.Info("NATS storage available again")
			}
			hs.set(reason)
		}
	}()
	return func() { close(done); <-finished }
}

// check says why the store cannot take writes now, or "".
func check(nc *nats.Conn, ledger jetstream.Stream) string {
	if st := nc.Status(); st != nats.CONNECTED {
		return "not connected to NATS (" + st.String() + ")"
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeEvery)
	defer cancel()
	// The ledger's leader answers its info: what commits need. The
	// account's info would need JetStream's meta leader too, which the
	// store's work does not (its election would degrade the store for
	// nothing).
	if _, err := ledger.Info(ctx); err != nil {
		return fmt.Sprintf("JetStream does not answer: %v", err)
	}
	return ""
}
