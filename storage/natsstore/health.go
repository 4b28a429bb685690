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

// healthState is the store's health, as last probed.
type healthState struct {
	mu       sync.Mutex
	h        webhook.Health
	onChange func(webhook.Health)
}

func newHealthState(onChange func(webhook.Health)) *healthState {
	return &healthState{h: webhook.Health{Status: "ok"}, onChange: onChange}
}

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
		hs.h = webhook.Health{Status: "degraded", Reason: reason, Since: time.Now().UTC()}
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
func (hs *healthState) probe(nc *nats.Conn, js jetstream.JetStream, logger *zap.Logger, observe func(*nats.Conn)) (stop func()) {
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
			reason := check(nc, js)
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
func check(nc *nats.Conn, js jetstream.JetStream) string {
	if st := nc.Status(); st != nats.CONNECTED {
		return "not connected to NATS (" + st.String() + ")"
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeEvery)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Sprintf("JetStream does not answer: %v", err)
	}
	return ""
}
