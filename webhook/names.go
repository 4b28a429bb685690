package webhook

import (
	"regexp"
	"strings"
)

// TestEvent is the event the admin API's test route sends. No rule may
// emit it, and "*" does not cover it: a test goes to the one subscription
// it is sent to.
const TestEvent = "webhook.test"

var (
	eventNameRE    = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	eventPatternRE = regexp.MustCompile(`^([A-Za-z0-9_-]+\.)+\*$`)
)

// ValidEventName reports whether name is an event name: dot-separated
// words of letters, digits, '_' and '-' (order.created).
func ValidEventName(name string) bool { return eventNameRE.MatchString(name) }

// ValidEventPattern reports whether p is a pattern that covers a family of
// events (order.*).
func ValidEventPattern(p string) bool { return eventPatternRE.MatchString(p) }

// ValidEventSelector reports whether s selects events as a subscription's
// entry does: a name, a pattern or "*".
func ValidEventSelector(s string) bool {
	return s == "*" || ValidEventName(s) || ValidEventPattern(s)
}

// EventMatches reports whether a subscription's entry (a name, a
// "prefix.*" pattern or "*") covers event.
func EventMatches(entry, event string) bool {
	if entry == "*" {
		return event != TestEvent // tests are sent to one subscription on purpose
	}
	if prefix, ok := strings.CutSuffix(entry, ".*"); ok {
		return strings.HasPrefix(event, prefix+".")
	}
	return entry == event
}
