package webhook

import (
	"errors"
	"time"
)

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable is matched (errors.Is) by every error that means the
// store cannot take writes now: closed, short of disk space, out of reach.
var ErrUnavailable = errors.New("webhooks store unavailable")

// ErrClosed is returned by operations on a closed store.
var ErrClosed error = UnavailableError("webhooks store is closed")

// UnavailableError is an error that matches ErrUnavailable: a store says why it
// takes no writes with one.
type UnavailableError string

func (e UnavailableError) Error() string        { return string(e) }
func (e UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Health says whether the store accepts writes, and why not.
type Health struct {
	Status       string    `json:"status"` // "ok" or "degraded"
	Reason       string    `json:"reason,omitempty"`
	FreeBytes    uint64    `json:"free_bytes"`
	ReserveBytes uint64    `json:"reserve_bytes"`
	Since        time.Time `json:"since,omitzero"` // when it became degraded
}

// Degraded reports whether writes are refused.
func (h Health) Degraded() bool { return h.Status == "degraded" }

// Snapshot is the remembered state of one resource (a rule's state.key),
// written in the transaction that stores the request's events.
type Snapshot struct {
	Key   string
	Value []byte // JSON; nil forgets what is remembered under Key
}

// Counts are the numbers behind the stats route.
type Counts struct {
	Events        int64            `json:"events"`
	Subscriptions int64            `json:"subscriptions"`
	Active        int64            `json:"active_subscriptions"`
	QueueDepth    int64            `json:"queue_depth"`
	Deliveries    map[string]int64 `json:"deliveries"`
}

// Durability says when a commit of events returns.
type Durability int

const (
	// Sync returns once the events are durable (on disk, fsynced; or on a
	// majority of a cluster).
	Sync Durability = iota
	// Async returns at once; the commit and its write happen in the
	// background and the last events may be lost on a crash.
	Async
)
