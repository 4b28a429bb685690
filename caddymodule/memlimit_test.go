package caddymodule

import (
	"math"
	"testing"
)

func TestHeadroomWarning(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		limit uint64
		soft  int64
		warn  bool
	}{
		{"Caddy's default in a 150 MiB container (90%)", 150 * mib, 135 * mib, true},
		{"GOMEMLIMIT at about half of 150 MiB", 150 * mib, 70 * mib, false},
		{"just enough room", 180 * mib, 100 * mib, false},
		{"just too little", 180 * mib, 100*mib + 1, true},
		{"90% of 1 GiB leaves ~102 MiB", 1024 * mib, 1024 * mib * 9 / 10, false},
		{"no soft limit under a container limit", 512 * mib, math.MaxInt64, true},
		{"no container limit", 0, math.MaxInt64, false},
		{"a limit past int64 (cgroup v1's unlimited)", math.MaxUint64, 100 * mib, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := headroomWarning(tc.limit, tc.soft)
			if (got != "") != tc.warn {
				t.Errorf("headroomWarning(%d MiB, %d MiB) = %q, want a warning: %v", tc.limit/mib, tc.soft/mib, got, tc.warn)
			}
		})
	}
}
