package caddymodule

import (
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/zap"
)

// minHeadroom is the room a container's memory limit should leave above
// the Go soft limit: the binary's mapped pages (~50 MiB) and the store's
// recently used ones (Badger maps its tables), which are not Go heap.
// With less, a heap that grows to the soft limit makes the kernel evict
// those pages, and every request and delivery waits for the disk: 100,000
// pending deliveries stalled in a 150 MiB container under Caddy's default
// soft limit (90% of it), and drained at ~5,500/s with GOMEMLIMIT=70MiB
// (docs/operations.md, Memory).
const minHeadroom = 80 << 20

// warnMemoryHeadroom logs a warning when the process runs under a memory
// limit (a container's cgroup) that leaves less than minHeadroom above
// the Go soft limit. It reads the same limit as Caddy's main, which sets
// the soft limit to 90% of it unless GOMEMLIMIT or AUTOMEMLIMIT say
// otherwise.
func warnMemoryHeadroom(logger *zap.Logger) {
	limit, err := memlimit.FromCgroup()
	if err != nil || limit == 0 {
		return // no container limit (or none readable): nothing to share
	}
	soft := debug.SetMemoryLimit(-1) // reads it
	if msg := headroomWarning(limit, soft); msg != "" {
		logger.Warn(msg,
			zap.Uint64("memory_limit_bytes", limit),
			zap.Int64("go_soft_limit_bytes", soft),
			zap.String("see", "docs/operations.md#memory"))
	}
}

// headroomWarning is the warning for a memory limit and a Go soft limit
// (bytes), or "" when the soft limit leaves enough room.
func headroomWarning(limit uint64, soft int64) string {
	if limit == 0 || limit > math.MaxInt64 || soft <= 0 {
		return ""
	}
	room := int64(limit) - soft
	if room >= minHeadroom {
		return ""
	}
	return "the Go soft memory limit leaves little of the memory limit for mapped files (the binary, the webhooks store's tables): " +
		"under load the kernel evicts them and Caddy slows down; set GOMEMLIMIT to about half the memory limit, or AUTOMEMLIMIT=0.5"
}
