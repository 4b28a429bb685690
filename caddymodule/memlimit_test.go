package caddymodule

import (
	"math"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const mib = 1 << 20

func TestPlanSoftLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     uint64
		soft      int64
		userChose bool
		lower     int64
		warn      bool
	}{
		{"Caddy's default in a 150 MiB container (90%)", 150 * mib, 135 * mib, false, 75 * mib, false},
		{"the same, chosen by the user", 150 * mib, 135 * mib, true, 0, true},
		{"GOMEMLIMIT at about half of 150 MiB", 150 * mib, 70 * mib, true, 0, false},
		{"just enough room", 180 * mib, 100 * mib, false, 0, false},
		{"just too little", 180 * mib, 100*mib + 1, false, 90 * mib, false},
		{"just too little, chosen", 180 * mib, 100*mib + 1, true, 0, true},
		{"90% of 1 GiB leaves ~102 MiB", 1024 * mib, 1024 * mib * 9 / 10, false, 0, false},
		{"90% of 512 MiB", 512 * mib, 512 * mib * 9 / 10, false, 256 * mib, false},
		{"no soft limit under a container limit", 512 * mib, math.MaxInt64, false, 256 * mib, false},
		{"a small container already at half", 120 * mib, 60 * mib, false, 0, false},
		{"a small container under half", 120 * mib, 50 * mib, true, 0, false},
		{"no container limit", 0, math.MaxInt64, false, 0, false},
		{"a limit past int64 (cgroup v1's unlimited)", math.MaxUint64, 100 * mib, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planSoftLimit(tc.limit, tc.soft, tc.userChose)
			if got.lower != tc.lower || (got.warn != "") != tc.warn {
				t.Errorf("planSoftLimit(%d MiB, %d MiB, %v) = lower %d MiB, warn %q; want lower %d MiB, a warning: %v",
					tc.limit/mib, tc.soft/mib, tc.userChose, got.lower/mib, got.warn, tc.lower/mib, tc.warn)
			}
		})
	}
}

// fakeMemory is the process's memory settings as memoryShare sees them.
type fakeMemory struct {
	limit uint64
	soft  int64
	env   map[string]string
}

func (f *fakeMemory) share() *memoryShare {
	return &memoryShare{
		containerLimit: func() (uint64, error) { return f.limit, nil },
		setSoftLimit: func(n int64) int64 {
			old := f.soft
			if n >= 0 {
				f.soft = n
			}
			return old
		},
		lookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok },
	}
}

func TestMemoryShareLowersAndRestores(t *testing.T) {
	f := &fakeMemory{limit: 150 * mib, soft: 135 * mib}
	m := f.share()
	core, logs := observer.New(zap.InfoLevel)

	m.acquire(zap.New(core)) // the first config's store
	if f.soft != 75*mib {
		t.Fatalf("soft limit after the first store opened = %d MiB, want 75", f.soft/mib)
	}
	if n := logs.FilterMessageSnippet("lowered the Go soft memory limit").Len(); n != 1 {
		t.Errorf("%d info lines about lowering the limit, want 1: %v", n, logs.All())
	}
	m.acquire(zap.New(core)) // a reload opens the next store first,
	m.release()              // then closes the last one
	if f.soft != 75*mib {
		t.Fatalf("soft limit after a reload = %d MiB, want 75", f.soft/mib)
	}
	m.release() // no config uses a store any more
	if f.soft != 135*mib {
		t.Errorf("soft limit after the last store closed = %d MiB, want 135 restored", f.soft/mib)
	}
}

func TestMemoryShareLeavesOthersChoices(t *testing.T) {
	t.Run("chosen by the user: kept, with a warning", func(t *testing.T) {
		f := &fakeMemory{limit: 150 * mib, soft: 135 * mib, env: map[string]string{"AUTOMEMLIMIT": "0.9"}}
		m := f.share()
		core, logs := observer.New(zap.InfoLevel)
		m.acquire(zap.New(core))
		if f.soft != 135*mib {
			t.Errorf("soft limit = %d MiB, want the user's 135 kept", f.soft/mib)
		}
		if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 1 {
			t.Errorf("%d warnings, want 1: %v", n, logs.All())
		}
		m.release()
	})
	t.Run("changed by something else meanwhile: not restored over it", func(t *testing.T) {
		f := &fakeMemory{limit: 150 * mib, soft: 135 * mib}
		m := f.share()
		m.acquire(zap.NewNop())
		f.soft = 60 * mib
		m.release()
		if f.soft != 60*mib {
			t.Errorf("soft limit = %d MiB, want the 60 set meanwhile kept", f.soft/mib)
		}
	})
	t.Run("no container limit: untouched", func(t *testing.T) {
		f := &fakeMemory{soft: math.MaxInt64}
		m := f.share()
		m.acquire(zap.NewNop())
		m.release()
		if f.soft != math.MaxInt64 {
			t.Errorf("soft limit = %d, want untouched", f.soft)
		}
	})
}
