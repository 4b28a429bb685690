package payload

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func order(total float64, site string) *webhook.Event {
	data, _ := json.Marshal(map[string]any{"orderId": "o1", "total": total, "siteId": site, "items": []string{"a", "b"}})
	return &webhook.Event{ID: "evt_1", Name: "order.created", Data: data, Site: site, UserID: json.RawMessage(`"u7"`)}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		kind    Kind
		expr    string
		wantErr string
	}{
		{Filter, `data.total > 100 && data.siteId == "site-1"`, ""},
		{Filter, `event.startsWith("order.") || site == "s2" || user_id == "u7"`, ""},
		{Filter, `data.total >`, "Syntax error"},
		{Filter, `nope == 1`, "undeclared reference to 'nope'"},
		{Filter, `"yes"`, "a filter must be a boolean expression, not string"},
		{Filter, ``, "empty expression"},
		{Filter, strings.Repeat(" ", MaxLength) + "true", "at most 4096 characters"},
		{Transform, `{"order": data.orderId, "amount": data.total}`, ""},
		{Transform, `data`, ""},
		{Transform, `data.total + 1`, "a transformation must build a map"},
		{Transform, `data.total > 1 ? data : data`, ""}, // dyn: checked when it runs
		{Transform, `1 + 2`, "a transformation must build a map"},
		{Transform, `{"a": }`, "Syntax error"},
	}
	for _, tt := range tests {
		err := Check(tt.kind, tt.expr)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s %q: %v", tt.kind, tt.expr, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s %q: %v, want %q", tt.kind, tt.expr, err, tt.wantErr)
		}
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		filter  string
		ev      *webhook.Event
		want    bool
		wantErr bool
	}{
		{`data.total > 100 && data.siteId == "site-1"`, order(150, "site-1"), true, false},
		{`data.total > 100 && data.siteId == "site-1"`, order(50, "site-1"), false, false},
		{`data.total > 100 && data.siteId == "site-1"`, order(150, "site-2"), false, false},
		{`data.missing > 1`, order(150, ""), false, true},                       // no such field: an error, not delivered
		{`has(data.missing) && data.missing > 1`, order(150, ""), false, false}, // has() guards it
		{`data.items.exists(i, i == "b") && user_id == "u7" && event == "order.created"`, order(1, ""), true, false},
	}
	for _, tt := range tests {
		got, err := NewEnvelope(tt.ev).matches(tt.filter)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s on %s: %v, %v; want %v, error %v", tt.filter, tt.ev.Data, got, err, tt.want, tt.wantErr)
		}
	}
	sub := &webhook.Subscription{Events: []string{"order.*"}, Filter: `data.total > 100`}
	if !Receives(sub, order(150, "")) || Receives(sub, order(50, "")) {
		t.Error("Receives does not follow the filter")
	}
	shadow := order(150, "")
	shadow.Shadow = true
	if Receives(sub, shadow) {
		t.Error("a shadow event received")
	}
	sub.Filter = `data.nope > 1`
	if Receives(sub, order(150, "")) {
		t.Error("a filter that fails lets the event through")
	}
}

// TestCostLimit: a filter whose evaluation would take long stops and
// keeps the event out.
func TestCostLimit(t *testing.T) {
	items := make([]int, 300)
	data, _ := json.Marshal(map[string]any{"items": items})
	ev := &webhook.Event{Name: "x.y", Data: data}
	_, err := NewEnvelope(ev).matches(`data.items.all(a, data.items.all(b, a == b || a != b))`)
	if err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("90,000 comparisons: %v, want the cost limit", err)
	}
}

func TestApply(t *testing.T) {
	got, err := Apply(`{"order": data.orderId, "amount": data.total, "site": site, "n": data.items.size(), "by": user_id}`, order(42.5, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want := map[string]any{"order": "o1", "amount": 42.5, "site": "s1", "n": 2.0, "by": "u7"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, got)
		}
	}
	if _, err := Apply(`{"x": data.nope.deeper}`, order(1, "")); err == nil {
		t.Error("a transformation reading a missing field: no error")
	}
	if _, err := Apply(`data.total > 0 ? data.total : data`, order(1, "")); err == nil {
		t.Error("a transformation that builds a number when it runs: no error")
	}
}

// TestEnvelopeFanOut: an envelope gives every subscription of a fan-out
// what Receives gives it, decoding the event once (at the first filter)
// and not at all when no subscription has a filter; an event whose data
// does not decode is kept from every filtered subscription.
func TestEnvelopeFanOut(t *testing.T) {
	subs := []*webhook.Subscription{
		{Events: []string{"order.*"}},
		{Events: []string{"order.*"}, Filter: `data.total > 100`},
		{Events: []string{"order.*"}, Filter: `data.total < 100`},
		{Events: []string{"customer.*"}, Filter: `true`},
		{Events: []string{"order.*"}, Filter: `data.siteId == "s1"`},
	}
	ev := order(150, "s1")
	env := NewEnvelope(ev)
	if env.vars != nil {
		t.Fatal("decoded before any filter")
	}
	for i, sub := range subs {
		if got, want := env.Receives(sub), Receives(sub, ev); got != want {
			t.Errorf("subscription %d: envelope %v, Receives %v", i, got, want)
		}
	}
	decoded := env.vars
	env.Receives(subs[1])
	if decoded == nil || reflect.ValueOf(env.vars).Pointer() != reflect.ValueOf(decoded).Pointer() {
		t.Errorf("the envelope's variables were decoded again, or never: %v", env.vars)
	}
	plain := NewEnvelope(ev)
	plain.Receives(subs[0])
	if plain.vars != nil {
		t.Error("decoded for a subscription without a filter")
	}
	bad := NewEnvelope(&webhook.Event{Name: "order.created", Data: json.RawMessage(`{`)})
	if bad.Receives(subs[1]) || !bad.Receives(subs[0]) {
		t.Error("an event whose data does not decode: kept from the filtered subscription only")
	}
}

// BenchmarkFanOut: an event to 10 subscriptions with filters, through one
// envelope (the stores' fan-out) and through Receives one by one.
func BenchmarkFanOut(b *testing.B) {
	ev := order(150, "s1")
	subs := make([]*webhook.Subscription, 10)
	for i := range subs {
		subs[i] = &webhook.Subscription{Events: []string{"order.*"}, Filter: `data.total > 100 && data.siteId == "s1"`}
	}
	b.Run("envelope", func(b *testing.B) {
		for b.Loop() {
			env := NewEnvelope(ev)
			for _, sub := range subs {
				env.Receives(sub)
			}
		}
	})
	b.Run("each", func(b *testing.B) {
		for b.Loop() {
			for _, sub := range subs {
				Receives(sub, ev)
			}
		}
	})
}
