package webhook

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// referenceEvent is the event's encoding by encoding/json: the appender
// must write the same bytes.
func referenceEvent(e Event) ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		Timestamp string `json:"timestamp"`
	}{plain(e), e.Time.UTC().Format(TimeFormat)})
}

func sameEncoding(t *testing.T, what string, got []byte, gotErr error, want []byte, wantErr error) {
	t.Helper()
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", what, gotErr, wantErr)
	}
	if gotErr == nil && !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

var encodeCases = []struct {
	name, text string
	raw        json.RawMessage
}{
	{"plain", "order.created", json.RawMessage(`{"orderId":"a1","total":12.5,"items":[1,2]}`)},
	{"escapes", "a \"quoted\" \\ <b> & \x01 \t\n", json.RawMessage(` { "html" : "<b>&amp;</b>" , "n" : [ 1 ,2 ] } `)},
	{"unicode", "café \u2028 ☃ \xff", json.RawMessage(`{"s":"café \u2028 ☃"}`)},
	{"del and escapes in JSON", "\x7f", json.RawMessage(`"a\u003cb\"\\"`)},
	{"scalar", "", json.RawMessage(`42`)},
	{"null data", "x", nil},
	{"invalid data", "x", json.RawMessage(`{"a":`)},
	{"empty data", "x", json.RawMessage{}},
	{"invalid with spaces", "x", json.RawMessage(`{ "a": }`)},
}

func TestEventAppendJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 23, 50, 1, 123456789, time.FixedZone("CET", 3600))
	for _, c := range encodeCases {
		for _, e := range []Event{
			{ID: "evt_" + c.text, Name: c.text, Time: at, Data: c.raw},
			{ID: "evt_1", Name: "n", Time: at, Data: json.RawMessage(`{}`), UserID: c.raw, Site: c.text, Shadow: true,
				TraceParent: c.text, TraceState: c.text, OrderKey: c.text},
		} {
			got, err := e.MarshalJSON()
			want, wantErr := referenceEvent(e)
			sameEncoding(t, c.name, got, err, want, wantErr)
			// Through encoding/json too, as the admin API encodes events.
			got, err = json.Marshal(e)
			sameEncoding(t, c.name+" (json.Marshal)", got, err, want, wantErr)
		}
	}
}

func TestDeliveryAppendJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 23, 50, 1, 120000000, time.UTC)
	local := at.In(time.FixedZone("X", -5*3600-30*60))
	for _, c := range encodeCases {
		for _, d := range []Delivery{
			*NewDelivery(&Subscription{ID: "sub_1"}, &Event{ID: "evt_1", Name: c.text}, at),
			{ID: "dlv_" + c.text, EventID: c.text, Event: c.text, SubscriptionID: c.text, Status: Failed,
				Attempts: []Attempt{
					{N: 1, At: at, StatusCode: 503, DurationMs: 12, ResponseBody: c.text},
					{N: 2, At: local, Error: c.text, DurationMs: 0},
				},
				RunStart: 1, OrderKey: c.text, Waiting: true, CreatedAt: at, UpdatedAt: local},
			{ID: "dlv_2", Status: Pending, CreatedAt: at}, // nil attempts, zero times
			{ID: "dlv_3", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			got, err := d.AppendJSON(nil)
			want, wantErr := json.Marshal(d)
			sameEncoding(t, c.name, got, err, want, wantErr)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, c := range encodeCases {
		f.Add(c.text, []byte(c.raw), int64(1764719401123456789))
	}
	f.Fuzz(func(t *testing.T, text string, raw []byte, nanos int64) {
		at := time.Unix(0, nanos)
		e := Event{ID: text, Name: text, Time: at, Data: raw, UserID: raw, Site: text, OrderKey: text}
		got, err := e.AppendJSON(nil)
		want, wantErr := referenceEvent(e)
		sameEncoding(t, "event", got, err, want, wantErr)
		d := Delivery{ID: text, Status: text, Attempts: []Attempt{{N: 1, At: at, Error: text, ResponseBody: text}},
			NextAttemptAt: &at, OrderKey: text, CreatedAt: at, UpdatedAt: at}
		got, err = d.AppendJSON(nil)
		want, wantErr = json.Marshal(d)
		sameEncoding(t, "delivery", got, err, want, wantErr)
	})
}
