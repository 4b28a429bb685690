package natsstore

import (
	"context"
	"sync"
	"time"
)

// applyWait bounds how long a write waits for this node's watch to show
// it: the write is stored by then, so a watch that lags (a reconnect)
// delays what this node sees, not the caller.
const applyWait = 2 * time.Second

// progress is how far a watch has applied its stream (a stream sequence,
// which is a KV revision), and lets a writer wait until the watch shows
// its write.
type progress struct {
	mu       sync.Mutex
	seq      uint64
	advanced chan struct{} // closed and replaced at each advance
}

func newProgress() progress { return progress{advanced: make(chan struct{})} }

// advance records that the watch applied seq.
func (p *progress) advance(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq > p.seq {
		p.seq = seq
		close(p.advanced)
		p.advanced = make(chan struct{})
	}
}

// wait returns once the watch applied seq, or after applyWait, or with
// ctx's error once it is done.
func (p *progress) wait(ctx context.Context, seq uint64) error {
	timeout := time.NewTimer(applyWait)
	defer timeout.Stop()
	for {
		p.mu.Lock()
		at, ch := p.seq, p.advanced
		p.mu.Unlock()
		if at >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-timeout.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
