package payload

import (
	"encoding/json"
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
		got, err := Matches(tt.filter, tt.ev)
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
	_, err := Matches(`data.items.all(a, data.items.all(b, a == b || a != b))`, ev)
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
