package webhook

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimeFormat is the timestamp format of events and their deliveries: ISO 8601
// in UTC with milliseconds, e.g. 2026-11-23T10:00:00.123Z.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Event is one inferred business event as stored.
type Event struct {
	// ID is unique per event ("evt_" + a time-ordered ULID) and stays the
	// same on every retry and replay, so receivers can de-duplicate.
	ID string `json:"id"`
	// Name is the event name, e.g. order.created.
	Name string `json:"event"`
	// Time is when the event was inferred.
	Time time.Time `json:"-"`
	// Data is the payload the rule extracted.
	Data json.RawMessage `json:"data"`
	// UserID is the rule's user_id value, if it has one.
	UserID json.RawMessage `json:"user_id,omitempty"`
	// Site is the value that subscriptions filter on (filters.site_ids).
	Site string `json:"site,omitempty"`
	// Shadow marks an event of a rule (or handler) in shadow mode: it is
	// stored and listed, but never delivered nor replayed.
	Shadow bool `json:"shadow,omitempty"`
	// TraceParent and TraceState are the W3C Trace Context of the request
	// that caused the event (its traceparent header, or the span Caddy's
	// tracing handler made): each delivery attempt continues that trace.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
	// OrderKey names the resource the event is about (the rule's
	// order_key, else its state key): an ordered subscription receives
	// the events of one key in the order they were inferred.
	OrderKey string `json:"order_key,omitempty"`
}

// MarshalJSON encodes the event with its timestamp in TimeFormat.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

// UnmarshalJSON decodes what MarshalJSON wrote.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var v struct {
		plain
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, v.Timestamp)
	if err != nil {
		return fmt.Errorf("event %s: timestamp: %w", v.ID, err)
	}
	*e = Event(v.plain)
	e.Time = t
	return nil
}
