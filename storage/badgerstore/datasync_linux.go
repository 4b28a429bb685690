package badgerstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes what was written to f durable, and of its metadata only
// what reading it back needs (the commit log's size does not change).
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
