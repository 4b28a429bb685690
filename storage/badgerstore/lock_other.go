//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package badgerstore

import (
	"fmt"
	"runtime"
)

// lockDir would take Badger's directory lock; on this system Badger locks
// differently, and rotating the key without the lock could race a running
// store.
func lockDir(string) (func(), error) {
	return nil, fmt.Errorf("rotating the key is not supported on %s", runtime.GOOS)
}
