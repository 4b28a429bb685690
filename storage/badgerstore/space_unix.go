//go:build linux || darwin

package badgerstore

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// freeBytes returns the space that an unprivileged process may still use
// on dir's filesystem.
func freeBytes(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil //nolint:gosec // G115: a block size is positive
}
