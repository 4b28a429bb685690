package natsstore

// What the end-to-end tests (package natsstore_test) read of the
// ownership design, to wait for a settled cluster.
var (
	OwnerOf  = ownerOf
	KeyToken = keyToken
)

const (
	HeartbeatKeyPrefix = heartbeatKeyPrefix
	LeaseKeyPrefix     = leaseKeyPrefix
)
