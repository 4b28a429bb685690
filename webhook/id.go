package webhook

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is the base32 alphabet of ULIDs: sortable as text, no I/L/O/U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns prefix followed by a ULID (RFC-less but widely used format:
// 48 bits of Unix milliseconds then 80 random bits, 26 characters). IDs made
// later sort after IDs made earlier (to the millisecond), which is what lets
// the event family be scanned by time.
func NewID(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	//nolint:gosec // G115: the 6 low bytes, truncation intended
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails on supported platforms
	return prefix + encodeULID(b)
}

// IDAt returns the smallest ID that NewID can produce at t: a scan that starts
// there sees every record made at or after t.
func IDAt(prefix string, t time.Time) string {
	var b [16]byte
	if ms := t.UnixMilli(); ms > 0 { // times before 1970 start at the first id
		binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16)
	}
	return prefix + encodeULID(b)
}

// IDTime returns the time, to the millisecond, at which NewID made id
// (whatever its prefix, up to the last '_'), and false for an id NewID
// cannot have made.
func IDTime(id string) (time.Time, bool) {
	u := id[strings.LastIndexByte(id, '_')+1:]
	if len(u) != 26 || u[0] > '7' { // the top digit holds 3 bits
		return time.Time{}, false
	}
	var ms uint64
	for i := range 10 { // 10 digits: the 48 bits of milliseconds
		d := strings.IndexByte(crockford, u[i])
		if d < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | uint64(d)
	}
	return time.UnixMilli(int64(ms)), true //nolint:gosec // G115: 48 bits
}

// encodeULID writes 128 bits as 26 Crockford base32 digits, most significant
// first (the top digit holds only 3 bits).
func encodeULID(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
