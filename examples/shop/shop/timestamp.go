package shop

import "time"

// isoMillis is the layout of JavaScript's Date.prototype.toISOString.
const isoMillis = "2006-01-02T15:04:05.000Z"

// Time is an instant that encodes in JSON the way a Node.js app writes a
// Mongo date: UTC with exactly three fractional digits, e.g.
// "2026-11-23T10:00:00.123Z". It decodes any RFC 3339 string.
type Time struct{ time.Time }

// MarshalJSON writes t as an ISO 8601 UTC string with milliseconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(isoMillis) + `"`), nil
}

// newTime truncates now to milliseconds (the precision a Mongo date keeps).
func newTime(now time.Time) Time {
	return Time{now.UTC().Truncate(time.Millisecond)}
}
