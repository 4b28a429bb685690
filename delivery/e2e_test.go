package delivery

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// TestDeliveredAndVerified: an order through Caddy reaches three
// subscriptions, one per signature scheme, each verifiable with its
// secret, with the headers and envelope of a delivery (docs/delivery.md).
func TestDeliveredAndVerified(t *testing.T) {
	t.Parallel()
	s := startStack(t, "")
	subs := map[string][2]string{}
	for _, scheme := range signer.Schemes() {
		id, secret := s.subscribe("/"+scheme, map[string]any{"signature": scheme})
		subs[scheme] = [2]string{id, secret}
	}
	orderID := s.order()
	for scheme, sub := range subs {
		got := s.rcv.wait(t, "/"+scheme, 1, 10*time.Second)[0]
		if err := signer.Verify(scheme, got.header, got.body, sub[1], time.Now()); err != nil {
			t.Errorf("%s: signature does not verify: %v", scheme, err)
		}
		if err := signer.Verify(scheme, got.header, got.body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", time.Now()); err == nil {
			t.Errorf("%s: verifies with a wrong secret", scheme)
		}
		id, event, ts, data := readEnvelope(t, got.body)
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(got.body, &keys)
		if len(keys) != 4 || keys["id"] == nil || keys["event"] == nil || keys["timestamp"] == nil || keys["data"] == nil {
			t.Errorf("%s: envelope keys: %s", scheme, got.body)
		}
		h := got.header
		checks := map[string]bool{
			"id evt_":             regexp.MustCompile(`^evt_[0-9A-Z]{26}$`).MatchString(id),
			"event":               event == "order.created" && h.Get("X-Webhook-Event") == "order.created",
			"timestamp format":    regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts),
			"X-Webhook-Timestamp": h.Get("X-Webhook-Timestamp") == ts,
			"X-Webhook-Id":        h.Get("X-Webhook-Id") == sub[0],
			"X-Webhook-Attempt":   h.Get("X-Webhook-Attempt") == "1",
			"User-Agent":          strings.HasPrefix(h.Get("User-Agent"), "caddy-webhooks/"),
			"Content-Type":        h.Get("Content-Type") == "application/json",
			"data.orderId":        data["orderId"] == orderID,
			"data.siteId":         data["siteId"] == "site-1",
		}
		switch scheme {
		case signer.Standard:
			checks["webhook-id is the event id"] = h.Get("Webhook-Id") == id
			checks["webhook-signature v1"] = strings.HasPrefix(h.Get("Webhook-Signature"), "v1,")
		case signer.SHA256:
			checks["sha256= signature"] = strings.HasPrefix(h.Get("X-Webhook-Signature"), "sha256=")
		case signer.Hex:
			checks["hex signature"] = regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h.Get("X-Webhook-Signature"))
		}
		for name, ok := range checks {
			if !ok {
				t.Errorf("%s: %s wrong; headers %v body %s", scheme, name, h, got.body)
			}
		}
	}
	// The stats of a subscription count the delivery.
	testbed.Eventually(t, 15*time.Second, "stats.total_sent = 1", func() bool {
		st := s.subscription(subs[signer.Standard][0])["stats"].(map[string]any)
		return st["total_sent"] == 1.0 && st["last_sent_at"] != nil
	})
}

// TestTimeoutRetried: an attempt that outlasts `timeout` is retried.
func TestTimeoutRetried(t *testing.T) {
	t.Parallel()
	// Retries come at once, and more than one, should a loaded machine
	// make a retry outlast the timeout too.
	s := startStack(t, "retry 100ms 100ms 100ms\n\t\ttimeout 500ms")
	id, _ := s.subscribe("/slow", nil)
	s.rcv.on("/slow", reply{status: 200, hang: true}, reply{status: 200})
	s.order()
	testbed.Eventually(t, 15*time.Second, "delivered on a retry", func() bool {
		d := s.deliveries(id, "succeeded")
		return len(d) == 1 && len(d[0].Attempts) >= 2 && d[0].Attempts[0].Error != "" && d[0].Attempts[len(d[0].Attempts)-1].StatusCode == 200
	})
	// The line is written after the attempt's record, which the retry
	// may follow at once.
	testbed.Eventually(t, 15*time.Second, "a webhook_timeout log line", func() bool {
		return strings.Contains(s.caddy.Logs(), `"msg":"webhook_timeout"`)
	})
}

// TestFailedAndRedelivered: a failed delivery (a 400 is final) keeps the
// receiver's answer in its attempt and counts in the subscription's
// stats, which stays active; redeliver sends it again, with its event id,
// its attempts counting on. (When each attempt goes out, and the dead
// letter after the last retry: TestDispatcherRetrySchedule; a redelivered
// dead letter's new run: TestDispatcherRedeliveredDeadLetter.)
func TestFailedAndRedelivered(t *testing.T) {
	t.Parallel()
	s := startStack(t, "")
	id, _ := s.subscribe("/bad", nil)
	s.rcv.on("/bad", reply{status: 400}, reply{status: 200})
	s.order()
	var failed []delivery
	testbed.Eventually(t, 10*time.Second, "delivery failed", func() bool {
		failed = s.deliveries(id, "failed")
		return len(failed) == 1 && len(failed[0].Attempts) == 1 && failed[0].Attempts[0].StatusCode == 400 &&
			strings.Contains(failed[0].Attempts[0].Response, `"answer":400`)
	})
	testbed.Eventually(t, 15*time.Second, "stats.total_failed = 1", func() bool {
		return s.subscription(id)["stats"].(map[string]any)["total_failed"] == 1.0
	})
	if sub := s.subscription(id); sub["is_active"] != true {
		t.Errorf("a failed delivery paused the subscription: %v", sub)
	}
	call(t, "POST", s.admin+"/webhooks/deliveries/"+failed[0].ID+"/redeliver", nil, http.StatusAccepted, nil)
	got := s.rcv.wait(t, "/bad", 2, 10*time.Second)
	if got[1].attempt != 2 || got[1].eventID != failed[0].EventID {
		t.Errorf("redelivered as attempt %d of event %s, want attempt 2 of %s", got[1].attempt, got[1].eventID, failed[0].EventID)
	}
	testbed.Eventually(t, 15*time.Second, "succeeded after redelivery", func() bool {
		d := s.deliveries(id, "succeeded")
		return len(d) == 1 && len(d[0].Attempts) == 2 && d[0].Attempts[1].StatusCode == 200
	})
	// An unknown delivery cannot be redelivered.
	call(t, "POST", s.admin+"/webhooks/deliveries/dlv_nope/redeliver", nil, http.StatusNotFound, nil)
}

// TestPrivateTargetRefused: without allow_private_targets a loopback
// target is refused, with the reason in the attempt.
func TestPrivateTargetRefused(t *testing.T) {
	t.Parallel()
	s := startStack(t, "guarded\n\t\tretry 1s")
	id, _ := s.subscribe("/internal", nil)
	s.order()
	testbed.Eventually(t, 10*time.Second, "refused delivery", func() bool {
		d := s.deliveries(id, "failed")
		return len(d) == 1 && len(d[0].Attempts) == 1 && strings.Contains(d[0].Attempts[0].Error, "loopback") &&
			strings.Contains(d[0].Attempts[0].Error, "allow_private_targets")
	})
	if n := len(s.rcv.at("/internal")); n != 0 {
		t.Errorf("the guarded receiver got %d requests", n)
	}
	var res struct {
		Success bool
		Error   string
	}
	call(t, "POST", s.admin+"/webhooks/subscriptions/"+id+"/test", nil, 200, &res)
	if res.Success || !strings.Contains(res.Error, "loopback") {
		t.Errorf("test to a loopback target: %+v", res)
	}
}

// TestDisableAfter: a subscription that disable_after paused (when:
// TestDispatcherDisableAfter) shows why through the admin API, and
// resuming it with PATCH clears the reason and the count.
func TestDisableAfter(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s\n\t\tdisable_after 2")
	id, _ := s.subscribe("/broken", nil)
	s.rcv.on("/broken", reply{status: 404})
	s.order()
	s.order()
	testbed.Eventually(t, 10*time.Second, "paused after 2 failures", func() bool {
		sub := s.subscription(id)
		return sub["is_active"] == false && strings.Contains(str(sub["disabled_reason"]), "2 consecutive")
	})
	// Resuming clears the reason and the count.
	var sub map[string]any
	call(t, "PATCH", s.admin+"/webhooks/subscriptions/"+id, map[string]any{"is_active": true}, 200, &sub)
	if sub["disabled_reason"] != nil || sub["stats"].(map[string]any)["consecutive_failures"] != 0.0 {
		t.Errorf("after resume: %v", sub)
	}
}

// TestTestRoute sends webhook.test to the receiver.
func TestTestRoute(t *testing.T) {
	t.Parallel()
	s := startStack(t, "")
	id, secret := s.subscribe("/t", map[string]any{"signature": "sha256", "events": []string{"order.created"}})
	var res struct {
		Success    bool  `json:"success"`
		StatusCode int   `json:"status_code"`
		DurationMs int64 `json:"duration_ms"`
	}
	call(t, "POST", s.admin+"/webhooks/subscriptions/"+id+"/test", nil, 200, &res)
	if !res.Success || res.StatusCode != 200 {
		t.Fatalf("test: %+v", res)
	}
	got := s.rcv.at("/t")
	if len(got) != 1 || got[0].header.Get("X-Webhook-Event") != "webhook.test" {
		t.Fatalf("receiver got %v", got)
	}
	if err := signer.Verify("sha256", got[0].header, got[0].body, secret, time.Now()); err != nil {
		t.Error(err)
	}
	s.rcv.on("/t", reply{status: 500})
	call(t, "POST", s.admin+"/webhooks/subscriptions/"+id+"/test", nil, 200, &res)
	if res.Success || res.StatusCode != 500 {
		t.Errorf("failing test: %+v", res)
	}
	call(t, "POST", s.admin+"/webhooks/subscriptions/sub_nope/test", nil, 404, nil)
}

// TestReplay delivers the stored events since a time again, with their
// ids, to one subscription.
func TestReplay(t *testing.T) {
	t.Parallel()
	s := startStack(t, "")
	start := time.Now().UTC()
	s.order()
	s.order()
	id, _ := s.subscribe("/late", nil) // subscribed after the events
	// Deliveries are made when events are stored: the store says at once
	// whether the late subscription got any.
	if d := s.deliveries(id, ""); len(d) != 0 {
		t.Fatalf("a late subscription has %d deliveries of past events without a replay", len(d))
	}
	if n := len(s.rcv.at("/late")); n != 0 {
		t.Fatalf("a late subscription got %d past events without a replay", n)
	}
	var res map[string]int
	call(t, "POST", s.admin+"/webhooks/subscriptions/"+id+"/replay", map[string]any{"since": start.Format(time.RFC3339Nano)}, http.StatusAccepted, &res)
	if res["replayed"] != 2 {
		t.Fatalf("replayed %v", res)
	}
	got := s.rcv.wait(t, "/late", 2, 10*time.Second)
	var ids []string
	for _, g := range got {
		id, _, _, _ := readEnvelope(t, g.body)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 2 {
		t.Errorf("replayed ids %v", ids)
	}
	call(t, "POST", s.admin+"/webhooks/subscriptions/"+id+"/replay", map[string]any{"since": "yesterday"}, 400, nil)
}

// TestDeleteCancelsPending: deleting a subscription cancels its pending
// deliveries.
func TestDeleteCancelsPending(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1h")
	id, _ := s.subscribe("/never", nil)
	s.rcv.on("/never", reply{status: 503})
	s.order()
	s.rcv.wait(t, "/never", 1, 10*time.Second)
	pending := s.deliveries(id, "pending")
	call(t, "DELETE", s.admin+"/webhooks/subscriptions/"+id, nil, 204, nil)
	// Its cancelled delivery cannot be sent again: nobody to send it to.
	if len(pending) != 1 {
		t.Fatalf("pending before the delete: %+v", pending)
	}
	call(t, "POST", s.admin+"/webhooks/deliveries/"+pending[0].ID+"/redeliver", nil, 409, nil)
	var stats struct {
		QueueDepth int64            `json:"queue_depth"`
		Deliveries map[string]int64 `json:"deliveries"`
	}
	call(t, "GET", s.admin+"/webhooks/stats", nil, 200, &stats)
	if stats.QueueDepth != 0 || stats.Deliveries["cancelled"] != 1 {
		t.Errorf("after delete: %+v", stats)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
