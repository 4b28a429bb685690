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
	testbed.Eventually(t, 5*time.Second, "stats.total_sent = 1", func() bool {
		st := s.subscription(subs[signer.Standard][0])["stats"].(map[string]any)
		return st["total_sent"] == 1.0 && st["last_sent_at"] != nil
	})
}

// TestRetryThenDelivered: 503 then 200 is delivered on attempt 2, with the
// same event id, the attempt counting up, after the schedule's delay.
func TestRetryThenDelivered(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s 2s")
	id, _ := s.subscribe("/flaky", nil)
	s.rcv.on("/flaky", reply{status: 503}, reply{status: 200})
	s.order()
	got := s.rcv.wait(t, "/flaky", 2, 15*time.Second)
	id1, _, _, _ := readEnvelope(t, got[0].body)
	id2, _, _, _ := readEnvelope(t, got[1].body)
	if id1 != id2 {
		t.Errorf("event id changed across retries: %s, %s", id1, id2)
	}
	if a1, a2 := got[0].header.Get("X-Webhook-Attempt"), got[1].header.Get("X-Webhook-Attempt"); a1 != "1" || a2 != "2" {
		t.Errorf("attempts %s, %s; want 1, 2", a1, a2)
	}
	if gap := got[1].at.Sub(got[0].at); gap < 900*time.Millisecond {
		t.Errorf("retry came after %s; the schedule says 1s", gap)
	}
	testbed.Eventually(t, 5*time.Second, "delivery succeeded", func() bool {
		d := s.deliveries(id, "succeeded")
		return len(d) == 1 && len(d[0].Attempts) == 2 && d[0].Attempts[0].StatusCode == 503 && d[0].Attempts[1].StatusCode == 200
	})
}

// TestRetryAfterHonoured: 429 with Retry-After: 3 waits 3s, not the
// schedule's 1s.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s 1s")
	s.subscribe("/busy", nil)
	s.rcv.on("/busy", reply{status: 429, header: map[string]string{"Retry-After": "3"}}, reply{status: 200})
	s.order()
	got := s.rcv.wait(t, "/busy", 2, 15*time.Second)
	if gap := got[1].at.Sub(got[0].at); gap < 2900*time.Millisecond {
		t.Errorf("retry after %s; Retry-After said 3s", gap)
	}
}

// TestGonePausesSubscription: 410 fails the delivery and pauses the
// subscription, which then receives nothing more.
func TestGonePausesSubscription(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s")
	id, _ := s.subscribe("/gone", nil)
	s.rcv.on("/gone", reply{status: 410})
	s.order()
	s.rcv.wait(t, "/gone", 1, 10*time.Second)
	testbed.Eventually(t, 5*time.Second, "subscription paused", func() bool {
		sub := s.subscription(id)
		return sub["is_active"] == false && strings.Contains(str(sub["disabled_reason"]), "410")
	})
	if d := s.deliveries(id, "failed"); len(d) != 1 || len(d[0].Attempts) != 1 {
		t.Errorf("want one failed delivery with one attempt: %+v", d)
	}
	s.order()
	time.Sleep(1500 * time.Millisecond) // nothing may arrive; there is no event to wait for
	if n := len(s.rcv.at("/gone")); n != 1 {
		t.Errorf("a paused subscription received %d deliveries", n)
	}
	if !strings.Contains(s.caddy.Logs(), `"msg":"subscription_paused"`) {
		t.Error("no subscription_paused log line")
	}
}

// TestBadRequestFailsAtOnce: a 400 is final: one attempt, failed.
func TestBadRequestFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s 1s")
	id, _ := s.subscribe("/bad", nil)
	s.rcv.on("/bad", reply{status: 400})
	s.order()
	testbed.Eventually(t, 10*time.Second, "delivery failed", func() bool {
		d := s.deliveries(id, "failed")
		return len(d) == 1 && len(d[0].Attempts) == 1 && d[0].Attempts[0].StatusCode == 400 &&
			strings.Contains(d[0].Attempts[0].Response, `"answer":400`)
	})
	time.Sleep(1500 * time.Millisecond) // a retry would have come by now
	if n := len(s.rcv.at("/bad")); n != 1 {
		t.Errorf("400 was tried %d times", n)
	}
	if sub := s.subscription(id); sub["stats"].(map[string]any)["total_failed"] != 1.0 || sub["is_active"] != true {
		t.Errorf("stats after a failure: %v", sub)
	}
}

// TestTimeoutRetried: an attempt that outlasts `timeout` is retried.
func TestTimeoutRetried(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s\n\t\ttimeout 1s")
	id, _ := s.subscribe("/slow", nil)
	s.rcv.on("/slow", reply{status: 200, delay: 3 * time.Second}, reply{status: 200})
	s.order()
	testbed.Eventually(t, 15*time.Second, "delivered on attempt 2", func() bool {
		d := s.deliveries(id, "succeeded")
		return len(d) == 1 && len(d[0].Attempts) == 2 && d[0].Attempts[0].Error != "" && d[0].Attempts[1].StatusCode == 200
	})
	if !strings.Contains(s.caddy.Logs(), `"msg":"webhook_timeout"`) {
		t.Error("no webhook_timeout log line")
	}
}

// TestDeadLetterAndRedeliver: after the last attempt a delivery stays
// failed; redeliver sends it again, its attempts counting on.
func TestDeadLetterAndRedeliver(t *testing.T) {
	t.Parallel()
	s := startStack(t, "retry 1s 1s")
	id, _ := s.subscribe("/down", nil)
	s.rcv.on("/down", reply{status: 500}, reply{status: 500}, reply{status: 500}, reply{status: 200})
	s.order()
	var failed []delivery
	testbed.Eventually(t, 15*time.Second, "dead letter after 3 attempts", func() bool {
		failed = s.deliveries(id, "failed")
		return len(failed) == 1 && len(failed[0].Attempts) == 3
	})
	call(t, "POST", s.admin+"/webhooks/deliveries/"+failed[0].ID+"/redeliver", nil, http.StatusAccepted, nil)
	got := s.rcv.wait(t, "/down", 4, 10*time.Second)
	if a := got[3].header.Get("X-Webhook-Attempt"); a != "4" {
		t.Errorf("redelivery carried attempt %s, want 4", a)
	}
	if e1, _, _, _ := readEnvelope(t, got[0].body); e1 != failed[0].EventID {
		t.Errorf("event id %s, delivery says %s", e1, failed[0].EventID)
	}
	testbed.Eventually(t, 5*time.Second, "succeeded after redelivery", func() bool {
		return len(s.deliveries(id, "succeeded")) == 1
	})
	// A pending or unknown delivery cannot be redelivered.
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

// TestDisableAfter pauses a subscription after N failed deliveries.
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
	time.Sleep(50 * time.Millisecond)
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

// TestDeadSubscriberDoesNotDelayOthers: a subscriber that never answers
// within the timeout, with a backlog in front of everything else, holds
// at most its share of the workers; another subscription's deliveries of
// the same events arrive as if it were alone.
func TestDeadSubscriberDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	s := startStack(t, "workers 4\n\t\ttimeout 5s\n\t\tretry 1m\n\t\trate_limit 1000/s")
	s.subscribe("/dead", nil)
	s.rcv.on("/dead", reply{status: 200, delay: time.Minute})
	for range 100 {
		s.order() // the dead subscription's backlog, due before anything of /alive
	}
	s.subscribe("/alive", nil)
	const n = 30
	start := time.Now()
	for range n {
		s.order()
	}
	s.rcv.wait(t, "/alive", n, 10*time.Second)
	took := time.Since(start)
	// The dead one has had at most one attempt in flight at a time (a
	// quarter of 4 workers), each lasting the 5s timeout.
	if got := len(s.rcv.at("/dead")); got > 1+int(took/(5*time.Second))+1 {
		t.Errorf("the dead subscriber got %d attempts in %v: more than its share of workers", got, took)
	}
}
