package caddymodule

import (
	"math"
	"os"
	"runtime/debug"
	"sync"

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

// memoryEnv are the variables by which a user chooses the Go soft limit
// (Caddy's main leaves the limit alone when either is set).
var memoryEnv = []string{"GOMEMLIMIT", "AUTOMEMLIMIT"}

// softLimitPlan is what to do with the Go soft limit under a container's
// memory limit (bytes): set it to lower (when > 0), or log warn (when not
// "").
type softLimitPlan struct {
	lower int64
	warn  string
}

// planSoftLimit decides for a container limit (0: none) and the current
// soft limit. Caddy's own choice (90% of the container's limit) is
// lowered to half of the limit when it leaves less than minHeadroom; a
// soft limit the user chose is kept, with a warning.
func planSoftLimit(limit uint64, soft int64, userChose bool) softLimitPlan {
	if limit == 0 || limit > math.MaxInt64 || soft <= 0 {
		return softLimitPlan{}
	}
	half := int64(limit / 2)
	if int64(limit)-soft >= minHeadroom || soft <= half {
		return softLimitPlan{} // enough room, or a small container already at half
	}
	if !userChose {
		return softLimitPlan{lower: half}
	}
	return softLimitPlan{warn: "the Go soft memory limit leaves little of the memory limit for mapped files (the binary, the webhooks store's tables): " +
		"under load the kernel evicts them and Caddy slows down; set GOMEMLIMIT to about half the memory limit, or AUTOMEMLIMIT=0.5"}
}

// memoryShare lowers the Go soft limit while a webhooks store is open
// (planSoftLimit) and restores it when the last one closes, unless
// something else changed it meanwhile. A reload opens the next store
// before it closes the last, so the limit stays lowered across reloads.
type memoryShare struct {
	mu       sync.Mutex
	users    int
	previous int64 // the soft limit before it was lowered; 0: not lowered
	lowered  int64

	containerLimit func() (uint64, error)
	setSoftLimit   func(int64) int64 // debug.SetMemoryLimit: -1 reads it
	lookupEnv      func(string) (string, bool)
}

var processMemory = &memoryShare{
	containerLimit: memlimit.FromCgroup,
	setSoftLimit:   debug.SetMemoryLimit,
	lookupEnv:      os.LookupEnv,
}

// acquire is called when a store opens.
func (m *memoryShare) acquire(logger *zap.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users++
	limit, err := m.containerLimit()
	if err != nil || limit == 0 {
		return // no container limit (or none readable): nothing to share
	}
	soft := m.setSoftLimit(-1)
	plan := planSoftLimit(limit, soft, m.userChose())
	fields := []zap.Field{zap.Uint64("memory_limit_bytes", limit), zap.Int64("go_soft_limit_bytes", soft), zap.String("see", "docs/operations.md#memory")}
	switch {
	case plan.lower > 0:
		m.setSoftLimit(plan.lower)
		m.previous, m.lowered = soft, plan.lower
		logger.Info("lowered the Go soft memory limit to half the container's memory limit, to leave room for mapped files (the binary, the webhooks store's tables); set GOMEMLIMIT or AUTOMEMLIMIT to choose it yourself",
			append(fields, zap.Int64("lowered_to_bytes", plan.lower))...)
	case plan.warn != "":
		logger.Warn(plan.warn, fields...)
	}
}

// release is called when a store closes.
func (m *memoryShare) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users--
	if m.users > 0 || m.previous == 0 {
		return
	}
	if m.setSoftLimit(-1) == m.lowered {
		m.setSoftLimit(m.previous)
	}
	m.previous, m.lowered = 0, 0
}

func (m *memoryShare) userChose() bool {
	for _, name := range memoryEnv {
		if _, ok := m.lookupEnv(name); ok {
			return true
		}
	}
	return false
}
