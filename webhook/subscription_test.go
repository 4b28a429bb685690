package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
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
		{"pattern, star and test", func(s *Subscription) { s.Events = []string{"order.*", "*", TestEvent} }, ""},
		{"no url", func(s *Subscription) { s.URL = "" }, "url"},
		{"event in the path", func(s *Subscription) { s.URL = "https://h.example/hooks/{event}" }, ""},
		{"event in the query", func(s *Subscription) { s.URL = "https://h.example/hooks?type={event}&v=1" }, ""},
		{"event twice", func(s *Subscription) { s.URL = "https://h.example/{event}/x/{event}" }, ""},
		{"event in the host", func(s *Subscription) { s.URL = "https://{event}.h.example/hooks" }, "url"},
		{"event as the port", func(s *Subscription) { s.URL = "https://h.example:{event}/hooks" }, "url"},
		{"other placeholder", func(s *Subscription) { s.URL = "https://h.example/{site}" }, "url"},
		{"lone brace", func(s *Subscription) { s.URL = "https://h.example/{event" }, "url"},
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
		fe := s.Validate(Checks{Known: known, ValidScheme: scheme, ValidSecret: secret})
		switch {
		case tc.field == "" && fe != nil:
			t.Errorf("%s: unexpected errors %v", tc.name, fe)
		case tc.field != "" && fe[tc.field] == "":
			t.Errorf("%s: no error on %s (got %v)", tc.name, tc.field, fe)
		}
	}
}

func TestTarget(t *testing.T) {
	s := &Subscription{URL: "https://h.example/hooks/{event}?t={event}"}
	if got := s.Target("order.created"); got != "https://h.example/hooks/order.created?t=order.created" {
		t.Errorf("Target = %q", got)
	}
	s.URL = "https://h.example/hooks"
	if got := s.Target("order.created"); got != s.URL {
		t.Errorf("Target without a placeholder = %q", got)
	}
}
