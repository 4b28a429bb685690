package webhook

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"10/s", Rate{10, time.Second}, true},
		{"100/m", Rate{100, time.Minute}, true},
		{"1000/h", Rate{1000, time.Hour}, true},
		{"999999999/s", Rate{MaxRateCount, time.Second}, true},
		{"1000000000/s", Rate{}, false}, // over the bound: the config and the API agree
		{"99999999999999999999/s", Rate{}, false},
		{"0/m", Rate{}, false},
		{"-1/m", Rate{}, false},
		{"+5/m", Rate{}, false},
		{"05/m", Rate{}, false},
		{"/m", Rate{}, false},
		{"100/d", Rate{}, false},
		{"100", Rate{}, false},
		{"100 per minute", Rate{}, false},
		{"", Rate{}, false},
	} {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("%q: String() = %q", tc.in, got.String())
		}
	}
}

func TestEventNames(t *testing.T) {
	for name, want := range map[string]bool{
		"order.created": true, "order": true, "crm.person-merged_v2": true,
		"": false, "order.": false, ".order": false, "order..x": false, "order created": false, "order.*": false,
	} {
		if ValidEventName(name) != want {
			t.Errorf("ValidEventName(%q) = %v", name, !want)
		}
	}
	for p, want := range map[string]bool{"order.*": true, "crm.person.*": true, "*": false, "order*": false, ".*": false} {
		if ValidEventPattern(p) != want {
			t.Errorf("ValidEventPattern(%q) = %v", p, !want)
		}
	}
	for s, want := range map[string]bool{"*": true, "order.*": true, "order.created": true, "": false, "order*": false, "**": false, "order.": false} {
		if ValidEventSelector(s) != want {
			t.Errorf("ValidEventSelector(%q) = %v", s, !want)
		}
	}
	for _, tc := range []struct {
		entry, event string
		want         bool
	}{
		{"*", "order.created", true},
		{"*", TestEvent, false},
		{"order.*", "order.created", true},
		{"order.*", "orders.created", false},
		{"order.*", "order", false},
		{"order.created", "order.created", true},
		{"order.created", "order.paid", false},
		{"order.*", "order.status.changed", true},
		{TestEvent, TestEvent, true},
		{"webhook.*", TestEvent, true},
	} {
		if EventMatches(tc.entry, tc.event) != tc.want {
			t.Errorf("EventMatches(%q, %q) = %v", tc.entry, tc.event, !tc.want)
		}
	}
}

// TestParseRateRoundTrip: whatever ParseRate accepts is within bounds and
// writes back as it was read. The inputs are random strings over the
// rate's alphabet (a fuzz target was too quick for go test -fuzz's
// coordinator on a loaded machine: "context deadline exceeded").
func TestParseRateRoundTrip(t *testing.T) {
	const alphabet = "0123456789/smhd+- x"
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 200_000 {
		b := make([]byte, 1+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		r, err := ParseRate(s)
		if err != nil {
			continue
		}
		accepted++
		if r.N < 1 || r.N > MaxRateCount || r.String() != s {
			t.Fatalf("ParseRate(%q) = %+v (String %q)", s, r, r.String())
		}
	}
	if accepted == 0 {
		t.Fatal("no random input was a rate: the test checks nothing")
	}
}
