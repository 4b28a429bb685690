// Package benchcpu gives benchmarks the process's CPU time, reported as
// cpu-ns/op beside ns/op: on a shared machine it hardly moves with the
// other work there, where ns/op does, and it counts the background
// goroutines (Badger's writes, the dispatcher's workers) a benchmark sets
// to work.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Now is the CPU time (user and system) the process has used so far.
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Report reports the CPU time per op since start (a Now) as cpu-ns/op.
func Report(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(Now()-start)/float64(b.N), "cpu-ns/op")
}
