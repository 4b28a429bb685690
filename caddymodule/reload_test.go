package caddymodule_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

func startAgain(t *testing.T, s *stack) *testbed.Caddy {
	t.Helper()
	return testbed.StartCaddy(t, s.caddy.Dir, s.config)
}

// TestReloadWhileRequestsFlow reloads the config several times while
// clients create orders: no request fails, every 201 has its event, and the
// store was opened once (Badger would refuse a second open of its locked
// directory, which would fail the reload).
func TestReloadWhileRequestsFlow(t *testing.T) {
	s := startStack(t, testRules, "durability sync")
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		created  atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Value
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := client.Post(s.module+"/api/orders", "application/json", strings.NewReader(`{"total":3,"site":"r"}`))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					created.Add(1)
				} else {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprint("status ", resp.StatusCode))
				}
			}
		}()
	}
	for i := 0; i < 4; i++ {
		testbed.Eventually(t, 10*time.Second, "requests flowing", func() bool { return created.Load() > int64(20*(i+1)) })
		// A real change each time, so Caddy does not skip the reload.
		cfg := strings.Replace(s.config, "max_body 4KiB", fmt.Sprintf("max_body %dKiB", 5+i), 1)
		if code, body := s.caddy.Load(cfg); code != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
	}
	testbed.Eventually(t, 10*time.Second, "requests after the last reload", func() bool { return created.Load() > 100 })
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d requests failed during reloads (first: %v)", failed.Load(), firstErr.Load())
	}
	s.caddy.Stop()
	if n := len(byName(storedEvents(t, s.storage), "order.created")); int64(n) != created.Load() {
		t.Errorf("%d orders created, %d events stored", created.Load(), n)
	}
	if n := strings.Count(s.caddy.Logs(), `"msg":"webhooks store opened"`); n != 1 {
		t.Errorf("store opened %d times across 4 reloads, want 1", n)
	}
	if strings.Contains(s.caddy.Logs(), "Cannot acquire directory lock") {
		t.Error("the store was opened twice")
	}
}

// TestReloadWithBrokenRulesKeepsServing loads a config whose rule file is
// broken: the load fails with file:line, and the running config serves on.
func TestReloadWithBrokenRulesKeepsServing(t *testing.T) {
	s := startStack(t, testRules, "")
	broken := strings.Replace(s.config, s.rulePath, s.rulePath+".broken", 1)
	writeFile(t, s.rulePath+".broken", "events:\n  - name: x.y\n    match: { method: POST, path: /a, status: 2xz }\n")
	code, body := s.caddy.Load(broken)
	if code == http.StatusOK {
		t.Fatal("a broken rule file was accepted")
	}
	if !strings.Contains(body, s.rulePath+".broken:3:") {
		t.Errorf("error does not say file:line: %s", body)
	}
	resp, out := post(t, s.module+"/api/orders", `{"total":1,"site":"k"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("after failed reload: %d %s", resp.StatusCode, out)
	}
	s.caddy.Stop()
	if n := len(byName(storedEvents(t, s.storage), "order.created")); n != 1 {
		t.Errorf("running config no longer infers events: %d", n)
	}
}
