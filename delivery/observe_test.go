package delivery

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestObserveDroppedLogAllocatesNothing: under a logger that drops the
// per-delivery lines (Caddy's `log { level ERROR }`), observing an
// attempt builds no log fields: at a drain of thousands a second they
// were garbage the heap grew for. At the level, the line is written.
func TestObserveDroppedLogAllocatesNothing(t *testing.T) {
	now := time.Now().UTC()
	c := webhook.Claim{
		Delivery: &webhook.Delivery{ID: "dlv_1"},
		Event:    &webhook.Event{ID: "evt_1", Name: "order.created", Time: now},
		Sub:      &webhook.Subscription{ID: "sub_1"},
	}
	for _, tc := range []struct {
		name string
		res  result
		msg  string
	}{
		{"delivered", result{outcome: Delivered, attempt: webhook.Attempt{N: 1, StatusCode: 200}}, "webhook_delivered"},
		{"retry", result{outcome: Retry, attempt: webhook.Attempt{N: 1, StatusCode: 503, Error: "receiver answered 503"}}, "webhook_http_error"},
		{"timeout", result{outcome: Retry, timeout: true, attempt: webhook.Attempt{N: 2, Error: "deadline"}}, "webhook_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(nil)
			core, logs := observer.New(zapcore.ErrorLevel)
			d.logger.Store(zap.New(core))
			d.observe(c, c.Delivery, tc.res, false) // warm the metrics' label children
			if n := testing.AllocsPerRun(100, func() { d.observe(c, c.Delivery, tc.res, false) }); n != 0 {
				t.Errorf("%v allocations per observe under an ERROR logger, want 0", n)
			}
			if logs.Len() != 0 {
				t.Errorf("%d lines written under an ERROR logger", logs.Len())
			}
			core, logs = observer.New(zapcore.DebugLevel)
			d.logger.Store(zap.New(core))
			d.observe(c, c.Delivery, tc.res, false)
			got := logs.FilterMessage(tc.msg).All()
			if len(got) != 1 || got[0].ContextMap()["delivery"] != "dlv_1" || got[0].ContextMap()["event_id"] != "evt_1" {
				t.Errorf("at debug level, logged %v, want one %s line with its delivery and event", logs.All(), tc.msg)
			}
		})
	}
}
