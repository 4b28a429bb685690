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
// itself degraded (and tells onHealth) once its server is gone, refuses
// writes meanwhile with an error matching webhook.ErrUnavailable at once,
// and takes them again once the server is back.
func TestHealthFollowsTheCluster(t *testing.T) {
	srv := startSingle(t)
	b := provisioned(t, Backend{URL: srv.url, Replicas: 1, Prefix: "health"})
	var mu sync.Mutex
	var told []webhook.Health
	s, err := b.Open(zaptest.NewLogger(t), func(h webhook.Health) { mu.Lock(); told = append(told, h); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := s.Health(); h.Degraded() {
		t.Fatalf("health at start: %+v", h)
	}

	srv.kill()
	within(t, "degraded once the server is gone", func() bool { return s.Health().Degraded() })
	start := time.Now()
	err = s.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil)
	if !errors.Is(err, webhook.ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("Commit while degraded: %v after %v, want an ErrUnavailable at once", err, time.Since(start))
	}
	if h := s.Health(); h.Reason == "" || h.Since.IsZero() {
		t.Errorf("degraded health %+v, want a reason and a time", h)
	}

	srv.start()
	within(t, "ok once the server is back", func() bool { return !s.Health().Degraded() })
	if err := s.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil); err != nil {
		t.Errorf("Commit once the server is back: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 2 || !told[0].Degraded() || told[1].Degraded() {
		t.Errorf("onHealth was told %+v, want degraded then ok", told)
	}
}

// single is one nats-server with JetStream and no cluster (testbed's
// clusters need a quorum of nodes to restart one).
type single struct {
	t        *testing.T
	url, cfg string
	cmd      *exec.Cmd
}

func startSingle(t *testing.T) *single {
	dir := t.TempDir()
	s := &single{t: t, url: fmt.Sprintf("nats://127.0.0.1:%d", testbed.FreePort(t)), cfg: filepath.Join(dir, "nats.conf")}
	conf := fmt.Sprintf("listen: %s\njetstream { store_dir: %q }\n", strings.TrimPrefix(s.url, "nats://"), filepath.Join(dir, "js"))
	if err := os.WriteFile(s.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start runs the server and waits until it takes connections.
func (s *single) start() {
	s.cmd = exec.Command(testbed.NATSBinary(s.t), "-c", s.cfg)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
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
