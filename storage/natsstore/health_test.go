package natsstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestHealthFollowsTheCluster, on a single server: the store reports
// itself degraded (and tells onHealth) once its server is gone; a commit
// made then waits for it while the failover wait runs, and is stored when
// the server comes back within it; past the wait, writes are refused at
// once with an error matching webhook.ErrUnavailable; and they are taken
// again once the server is back.
func TestHealthFollowsTheCluster(t *testing.T) {
	srv := startSingle(t)
	b := provisioned(t, Backend{URL: srv.url, Replicas: 1, Prefix: "health"})
	var mu sync.Mutex
	var told []webhook.Health
	st, err := b.Open(zaptest.NewLogger(t), func(h webhook.Health) { mu.Lock(); told = append(told, h); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*Store)
	if h := s.Health(); h.Degraded() {
		t.Fatalf("health at start: %+v", h)
	}

	// A restart within the failover wait: the commit waits and is stored.
	srv.kill()
	within(t, "degraded once the server is gone", func() bool { return s.Health().Degraded() })
	done := make(chan error, 1)
	go func() { done <- s.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil) }()
	srv.start()
	if err := <-done; err != nil {
		t.Errorf("Commit during a restart within the failover wait: %v, want it stored", err)
	}
	within(t, "ok once the server is back", func() bool { return !s.Health().Degraded() })

	// Out of reach past the failover wait (the store's clock moved on):
	// refused at once.
	srv.kill()
	within(t, "degraded again", func() bool { return s.Health().Degraded() })
	s.health.now = func() time.Time { return time.Now().Add(failoverWait) }
	start := time.Now()
	err = s.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil)
	if !errors.Is(err, webhook.ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("Commit past the failover wait: %v after %v, want an ErrUnavailable at once", err, time.Since(start))
	}
	if h := s.Health(); h.Reason == "" || h.Since.IsZero() {
		t.Errorf("degraded health %+v, want a reason and a time", h)
	}

	srv.start()
	within(t, "ok once the server is back", func() bool { return !s.Health().Degraded() })
	if err := s.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil); err != nil {
		t.Errorf("Commit once the server is back: %v", err)
	}
	// onHealth is told after the health is set: wait for the telling.
	within(t, "onHealth told of the recovery", func() bool { mu.Lock(); defer mu.Unlock(); return len(told) >= 4 })
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 4 || !told[0].Degraded() || told[1].Degraded() || !told[2].Degraded() || told[3].Degraded() {
		t.Errorf("onHealth was told %+v, want degraded, ok, degraded, ok", told)
	}
}

// TestHealthReady: calls wait for a degraded store for the failover wait
// from when it became degraded, and no longer.
func TestHealthReady(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		since   time.Duration // degraded for this long (0: ok)
		recover bool          // back to ok while the call waits
		want    error
	}{
		{"ok", 0, false, nil},
		{"degraded just now, back within the wait", time.Millisecond, true, nil},
		{"degraded just now, not back", time.Millisecond, false, webhook.ErrUnavailable},
		{"degraded past the wait", failoverWait, false, webhook.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			now := t0
			hs := newHealthState(nil)
			hs.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			if tc.since > 0 {
				hs.h = webhook.Health{Status: "degraded", Reason: "gone", Since: t0.Add(-tc.since)}
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() { // the clock runs, a probe sets the health
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(readyPoll):
					}
					mu.Lock()
					now = now.Add(time.Second)
					mu.Unlock()
					if tc.recover && i == 2 {
						hs.set("")
					}
				}
			}()
			err := hs.ready(context.Background())
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("ready: %v, want %v", err, tc.want)
			}
		})
	}
	hs := newHealthState(nil)
	hs.h = webhook.Health{Status: "degraded", Reason: "gone", Since: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hs.ready(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ready with a done context: %v", err)
	}
}

// single is one nats-server with JetStream and no cluster (testbed's
// clusters need a quorum of nodes to restart one).
type single struct {
	t        *testing.T
	url, cfg string
	cmd      *exec.Cmd
	all      []*exec.Cmd // every process started, ended at cleanup
}

func startSingle(t *testing.T) *single {
	dir := t.TempDir()
	s := &single{t: t, url: fmt.Sprintf("nats://127.0.0.1:%d", testbed.FreePort(t)), cfg: filepath.Join(dir, "nats.conf")}
	conf := fmt.Sprintf("listen: %s\njetstream { store_dir: %q }\n", strings.TrimPrefix(s.url, "nats://"), filepath.Join(dir, "js"))
	if err := os.WriteFile(s.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(func() {
		for _, cmd := range s.all {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		}
	})
	return s
}

// start runs the server and waits until it takes connections.
func (s *single) start() {
	s.cmd = exec.Command(testbed.NATSBinary(s.t), "-c", s.cfg)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.all = append(s.all, s.cmd)
	within(s.t, "nats-server takes connections", func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "nats://"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (s *single) kill() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}
