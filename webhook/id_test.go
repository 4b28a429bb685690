package webhook

import (
	"testing"
	"time"
)

func TestIDTime(t *testing.T) {
	at := time.Date(2026, 12, 3, 5, 30, 0, 123_000_000, time.UTC)
	for _, tc := range []struct {
		name string
		id   string
		want time.Time
		ok   bool
	}{
		{"an event id", NewID("evt_", at), at, true},
		{"a delivery id", NewID("dlv_", at), at, true},
		{"the first id at a time", IDAt("evt_", at), at, true},
		{"no prefix", NewID("", at)[0:26], at, true},
		{"the epoch", IDAt("evt_", time.UnixMilli(0)), time.UnixMilli(0), true},
		{"too short", "evt_01ARZ3NDEK", time.Time{}, false},
		{"not base32 in its time", "evt_01ARZ3NDUKTSV4RRFFQ69G5FAV", time.Time{}, false},
		{"past 48 bits", "evt_81ARZ3NDEKTSV4RRFFQ69G5FAV", time.Time{}, false},
		{"empty", "", time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := IDTime(tc.id)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("IDTime(%q) = %v, %v; want %v, %v", tc.id, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzIDTime: any string is parsed without a panic, and an id made at a
// time gives that time back.
func FuzzIDTime(f *testing.F) {
	f.Add("evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", int64(1_700_000_000_000))
	f.Add("", int64(0))
	f.Fuzz(func(t *testing.T, id string, ms int64) {
		IDTime(id)
		at := time.UnixMilli(ms & (1<<48 - 1))
		if got, ok := IDTime(NewID("dlv_", at)); !ok || !got.Equal(at) {
			t.Errorf("IDTime(NewID(%v)) = %v, %v", at, got, ok)
		}
	})
}
