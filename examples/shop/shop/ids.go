package shop

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// objectIDProcess is the 5-byte per-process random value of ObjectIds.
var objectIDProcess = func() [5]byte {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return b
}()

// objectIDCounter is the 3-byte counter of ObjectIds; it starts at a random value.
var objectIDCounter = func() *atomic.Uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := new(atomic.Uint32)
	c.Store(binary.BigEndian.Uint32(b[:]))
	return c
}()

// newObjectID returns a new identifier laid out like a MongoDB ObjectId:
// 4 bytes of Unix seconds, 5 random bytes fixed per process and a 3-byte
// counter, written as 24 lowercase hex characters.
func newObjectID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix())) //nolint:gosec // G115: 4 bytes of seconds, as in an ObjectId
	copy(b[4:9], objectIDProcess[:])
	n := objectIDCounter.Add(1)
	b[9], b[10], b[11] = byte(n>>16), byte(n>>8), byte(n) //nolint:gosec // G115: a 3-byte counter that wraps, as in an ObjectId
	return hex.EncodeToString(b[:])
}
