package queue

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func TestSecretsDuringGrace(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	s := &Subscription{Secret: "new", PreviousSecret: "old", PreviousSecretExpiresAt: &later}
	if got := s.Secrets(now); len(got) != 2 || got[0] != "new" || got[1] != "old" {
		t.Errorf("within grace: %v", got)
	}
	if got := s.Secrets(later.Add(time.Second)); len(got) != 1 || got[0] != "new" {
		t.Errorf("after grace: %v", got)
	}
}

func TestAcceptsSite(t *testing.T) {
	all := &Subscription{}
	some := &Subscription{Filters: Filters{SiteIDs: []string{"a", "b"}}}
	if !all.AcceptsSite("x") || !all.AcceptsSite("") || !some.AcceptsSite("b") || some.AcceptsSite("c") || some.AcceptsSite("") {
		t.Error("site filter wrong")
	}
}

func TestValidateSubscription(t *testing.T) {
	known := func(n string) bool { return n == "order.created" }
	scheme := func(s string) bool { return s == "standard" || s == "hex" }
	secret := func(scheme, s string) error {
		if len(s) < 16 {
			return errors.New("too short")
		}
		return nil
	}
	good := func() *Subscription {
		return &Subscription{URL: "https://h.example/x", Events: []string{"order.created"}, Signature: "standard", Secret: strings.Repeat("s", 16)}
	}
	cases := []struct {
		name  string
		edit  func(*Subscription)
		field string // "" = valid
	}{
		{"valid", func(*Subscription) {}, ""},
		{"pattern, star and test", func(s *Subscription) { s.Events = []string{"order.*", "*", webhook.TestEvent} }, ""},
		{"no url", func(s *Subscription) { s.URL = "" }, "url"},
		{"ftp url", func(s *Subscription) { s.URL = "ftp://h/x" }, "url"},
		{"relative url", func(s *Subscription) { s.URL = "/hook" }, "url"},
		{"credentials", func(s *Subscription) { s.URL = "https://u:p@h.example/" }, "url"},
		{"fragment", func(s *Subscription) { s.URL = "https://h.example/#x" }, "url"},
		{"port 0", func(s *Subscription) { s.URL = "https://h.example:0/" }, "url"},
		{"port 65536", func(s *Subscription) { s.URL = "https://h.example:65536/" }, "url"},
		{"port 99999", func(s *Subscription) { s.URL = "http://h.example:99999/x" }, "url"},
		{"port of 20 digits", func(s *Subscription) { s.URL = "http://h.example:18446744073709551617/" }, "url"},
		{"port 1", func(s *Subscription) { s.URL = "http://h.example:1/" }, ""},
		{"port 65535", func(s *Subscription) { s.URL = "https://h.example:65535/x" }, ""},
		{"ipv6 with port", func(s *Subscription) { s.URL = "https://[2001:db8::1]:8443/x" }, ""},
		{"proxy header", func(s *Subscription) { s.Headers = map[string]string{"Proxy-Authorization": "x"} }, "headers"},
		{"no events", func(s *Subscription) { s.Events = nil }, "events"},
		{"unknown event", func(s *Subscription) { s.Events = []string{"order.deleted"} }, "events"},
		{"bad pattern", func(s *Subscription) { s.Events = []string{"order.*.x"} }, "events"},
		{"bad scheme", func(s *Subscription) { s.Signature = "md5" }, "signature"},
		{"bad secret", func(s *Subscription) { s.Secret = "short" }, "secret"},
		{"bad rate", func(s *Subscription) { s.RateLimit = "100/day" }, "rate_limit"},
		{"good rate", func(s *Subscription) { s.RateLimit = "10/s" }, ""},
		{"reserved header", func(s *Subscription) { s.Headers = map[string]string{"x-webhook-signature": "x"} }, "headers"},
		{"content-type header", func(s *Subscription) { s.Headers = map[string]string{"content-type": "x"} }, "headers"},
		{"bad header name", func(s *Subscription) { s.Headers = map[string]string{"a b": "x"} }, "headers"},
		{"custom header", func(s *Subscription) { s.Headers = map[string]string{"X-Custom": "x"} }, ""},
		{"header value with a line break", func(s *Subscription) { s.Headers = map[string]string{"X-A": "a\r\nX-Injected: b"} }, "headers"},
		{"header name with spaces", func(s *Subscription) { s.Headers = map[string]string{" X-A ": "a"} }, "headers"},
		{"same header twice", func(s *Subscription) { s.Headers = map[string]string{"X-A": "a", "x-a": "b"} }, "headers"},
		{"empty site id", func(s *Subscription) { s.Filters.SiteIDs = []string{""} }, "filters.site_ids"},
	}
	for _, tc := range cases {
		s := good()
		tc.edit(s)
		fe := s.Validate(known, scheme, secret)
		switch {
		case tc.field == "" && fe != nil:
			t.Errorf("%s: unexpected errors %v", tc.name, fe)
		case tc.field != "" && fe[tc.field] == "":
			t.Errorf("%s: no error on %s (got %v)", tc.name, tc.field, fe)
		}
	}
}

func TestSubscriptionStore(t *testing.T) {
	s := openTest(t)
	now := time.Now().UTC()
	a := &Subscription{ID: NewID("sub_", now), URL: "https://a", Events: []string{"x.y"}, IsActive: true, CreatedAt: now}
	b := &Subscription{ID: NewID("sub_", now), URL: "https://b", Events: []string{"x.y"}, CreatedAt: now.Add(time.Second)}
	for _, sub := range []*Subscription{b, a} {
		if err := s.PutSubscription(sub); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Subscriptions()
	if err != nil || len(list) != 2 || list[0].ID != a.ID {
		t.Fatalf("list %v %v: want a then b", list, err)
	}
	got, err := s.Subscription(a.ID)
	if err != nil || got.URL != "https://a" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Subscription("sub_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	c, err := s.Count()
	if err != nil || c.Subscriptions != 2 || c.Active != 1 {
		t.Fatalf("count %+v %v", c, err)
	}
	// Concurrent updates all land: a conflict re-runs the function.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateSubscription(a.ID, func(sub *Subscription) error { sub.Stats.TotalSent++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.Subscription(a.ID); got.Stats.TotalSent != 20 {
		t.Errorf("after 20 concurrent updates total_sent = %d", got.Stats.TotalSent)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateSubscription(a.ID, func(sub *Subscription) error { sub.URL = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("update error: %v", err)
	}
	if got, _ := s.Subscription(a.ID); got.URL != "https://a" {
		t.Errorf("a failed update was stored: %s", got.URL)
	}
	if err := s.DeleteSubscription(a.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubscription(a.ID, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
