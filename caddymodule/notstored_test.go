package caddymodule

import (
	"encoding/json"
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestAsyncCommitFailureLoggedWhole: the settings the app gives its store
// log each event of an asynchronous commit that failed after its response
// was released at error level, whole, with the reason the failure gives,
// so that it can be recovered from the log.
func TestAsyncCommitFailureLoggedWhole(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason string
	}{
		{webhook.UnavailableError("the disk is short of space"), "store_unavailable"},
		{errors.New("storing events: write conflict"), "store_error"},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		a := &App{logger: zap.New(core), durability: webhook.Async}
		set := a.storeSettings()
		if set.NotStored == nil || set.Durability != webhook.Async {
			t.Fatalf("store settings %+v: want async with NotStored", set)
		}
		evs := []webhook.Event{
			{ID: "evt_1", Name: "order.created", Data: json.RawMessage(`{"orderId":"o-1","total":42}`), Site: "site-1"},
			{ID: "evt_2", Name: "order.paid", Data: json.RawMessage(`{"orderId":"o-1"}`)},
		}
		set.NotStored(evs, tc.err)
		got := logs.FilterMessage("event_skipped").FilterField(zap.String("reason", tc.reason)).All()
		if len(got) != len(evs) {
			t.Fatalf("%v: %d event_skipped lines with reason %s, want %d: %v", tc.err, len(got), tc.reason, len(evs), logs.All())
		}
		for i, e := range got {
			if e.Level != zapcore.ErrorLevel {
				t.Errorf("level %s, want error", e.Level)
			}
			env, ok := e.ContextMap()["envelope"]
			if !ok {
				t.Fatalf("no envelope in %v", e.ContextMap())
			}
			b, _ := json.Marshal(env)
			want, _ := json.Marshal(evs[i])
			if string(b) != string(want) {
				t.Errorf("envelope %s, want the whole event %s", b, want)
			}
		}
	}
}
