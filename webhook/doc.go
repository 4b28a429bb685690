// Package webhook holds the vocabulary that the rules, the store, delivery
// and the admin API share, in one place: rate limits, event names and
// patterns, and the test event. It is pure: no I/O, no storage.
package webhook
