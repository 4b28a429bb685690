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

// Health says whether the store accepts writes, and why not, with what
// the backend tells of itself: the room on its disk (the embedded store)
// or its cluster.
type Health struct {
	Status  string    `json:"status"` // "ok" or "degraded"
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitzero"` // when it became degraded
	Backend string    `json:"backend,omitempty"`
	*DiskSpace
	Cluster *ClusterHealth `json:"cluster,omitempty"`
}

// DiskSpace is the room left for a store on its filesystem: it stops
// writing below the reserve.
type DiskSpace struct {
	FreeBytes    uint64 `json:"free_bytes"`
	ReserveBytes uint64 `json:"reserve_bytes"`
}

// ClusterHealth is a clustered store's view of its cluster, from this
// node.
type ClusterHealth struct {
	Connected bool     `json:"connected"`
	Server    string   `json:"server,omitempty"`  // the server this node talks to (no credentials)
	Servers   []string `json:"servers,omitempty"` // the servers this node knows of
	Name      string   `json:"name,omitempty"`    // the cluster's name
	Replicas  int      `json:"replicas,omitempty"`
	// SyncAlways says whether every server fsyncs each write before it
	// acknowledges it; absent when it could not be found out.
	SyncAlways *bool   `json:"sync_always,omitempty"`
	RTTMillis  float64 `json:"rtt_ms,omitempty"` // round trip to Server
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
