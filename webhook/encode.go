package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The stores encode an event and a delivery on every request that matches
// and on every attempt. encoding/json does it by reflection and then scans
// what a MarshalJSON method returned, to check and compact it: that was
// most of a commit's CPU. The appenders below write the same bytes as
// json.Marshal (the tests compare them), straight into a buffer.

// AppendJSON appends the event as MarshalJSON encodes it.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"event":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"data":`...)
	b, err := appendRaw(b, e.Data)
	if err != nil {
		return nil, fmt.Errorf("event %s: data: %w", e.ID, err)
	}
	if len(e.UserID) > 0 {
		b = append(b, `,"user_id":`...)
		if b, err = appendRaw(b, e.UserID); err != nil {
			return nil, fmt.Errorf("event %s: user_id: %w", e.ID, err)
		}
	}
	b = appendOptString(b, `,"site":`, e.Site)
	if e.Shadow {
		b = append(b, `,"shadow":true`...)
	}
	b = appendOptString(b, `,"traceparent":`, e.TraceParent)
	b = appendOptString(b, `,"tracestate":`, e.TraceState)
	b = appendOptString(b, `,"order_key":`, e.OrderKey)
	b = append(b, `,"timestamp":"`...)
	b = e.Time.UTC().AppendFormat(b, TimeFormat)
	return append(b, `"}`...), nil
}

// AppendJSON appends the delivery as json.Marshal encodes it.
func (d *Delivery) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"event_id":`...)
	b = appendString(b, d.EventID)
	b = append(b, `,"event":`...)
	b = appendString(b, d.Event)
	b = append(b, `,"subscription_id":`...)
	b = appendString(b, d.SubscriptionID)
	b = append(b, `,"status":`...)
	b = appendString(b, d.Status)
	b = append(b, `,"attempts":`...)
	b, err := appendAttempts(b, d.Attempts)
	if err != nil {
		return nil, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	b = append(b, `,"run_start":`...)
	b = strconv.AppendInt(b, int64(d.RunStart), 10)
	b = append(b, `,"next_attempt_at":`...)
	if d.NextAttemptAt == nil {
		b = append(b, "null"...)
	} else if b, err = appendTime(b, *d.NextAttemptAt); err != nil {
		return nil, fmt.Errorf("delivery %s: next_attempt_at: %w", d.ID, err)
	}
	b = appendOptString(b, `,"order_key":`, d.OrderKey)
	if d.Waiting {
		b = append(b, `,"waiting":true`...)
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendTime(b, d.CreatedAt); err != nil {
		return nil, fmt.Errorf("delivery %s: created_at: %w", d.ID, err)
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendTime(b, d.UpdatedAt); err != nil {
		return nil, fmt.Errorf("delivery %s: updated_at: %w", d.ID, err)
	}
	return append(b, '}'), nil
}

func appendAttempts(b []byte, as []Attempt) ([]byte, error) {
	if as == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range as {
		a := &as[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"attempt":`...)
		b = strconv.AppendInt(b, int64(a.N), 10)
		b = append(b, `,"at":`...)
		var err error
		if b, err = appendTime(b, a.At); err != nil {
			return nil, fmt.Errorf("attempt %d: %w", a.N, err)
		}
		if a.StatusCode != 0 {
			b = append(b, `,"status_code":`...)
			b = strconv.AppendInt(b, int64(a.StatusCode), 10)
		}
		b = append(b, `,"duration_ms":`...)
		b = strconv.AppendInt(b, a.DurationMs, 10)
		b = appendOptString(b, `,"error":`, a.Error)
		b = appendOptString(b, `,"response_body":`, a.ResponseBody)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), and refuses the years it refuses.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("year %d outside of [0,9999]", y)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendString appends s quoted. Strings of printable ASCII with nothing
// to escape (ids, names, times: nearly all) are copied; the others are
// quoted by encoding/json, for its escapes (HTML characters included).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends a json.RawMessage as json.Marshal does: null when
// empty, refused when not JSON, compacted and with HTML characters
// escaped. JSON with none of the bytes those change is copied once valid.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	for _, c := range raw {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, err := json.Marshal(raw)
			return append(b, q...), err
		}
	}
	if !json.Valid(raw) {
		return nil, errors.New("invalid JSON")
	}
	return append(b, raw...), nil
}
