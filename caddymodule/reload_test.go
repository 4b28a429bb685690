package caddymodule_test

import (
	"encoding/json"
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
// clients create orders through the module (and, for comparison, through
// plain reverse_proxy): every response through the module is the app's 201,
// every order a client saw has its event, and the store was opened once
// (Badger would refuse a second open of its locked directory).
//
// Caddy itself drops a few connections on a reload: it binds the new
// listener with SO_REUSEPORT and closes the old socket, whose accept backlog
// is reset, and closes idle keep-alive connections. Such connection errors
// hit plain reverse_proxy alike, so they are counted and logged for both
// sites rather than failed on; an HTTP error through the module fails.
func TestReloadWhileRequestsFlow(t *testing.T) {
	s := startStack(t, testRules, "durability sync")
	type site struct {
		name, base        string
		created, connErrs atomic.Int64
		mu                sync.Mutex
		orders            []string
	}
	mod, plain := &site{name: "module", base: s.module}, &site{name: "plain", base: s.plain}
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		httpErrs atomic.Int64
		firstErr atomic.Value
	)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for w, st := range []*site{mod, mod, mod, plain} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := client.Post(st.base+"/api/orders", "application/json", strings.NewReader(fmt.Sprintf(`{"total":%d,"site":"r"}`, w)))
				if err != nil {
					st.connErrs.Add(1)
					continue
				}
				var o struct {
					ID string `json:"_id"`
				}
				derr := json.NewDecoder(resp.Body).Decode(&o)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || derr != nil {
					httpErrs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: status %d, %v", st.name, resp.StatusCode, derr))
					continue
				}
				st.created.Add(1)
				st.mu.Lock()
				st.orders = append(st.orders, o.ID)
				st.mu.Unlock()
			}
		}()
	}
	for i := 0; i < 4; i++ {
		testbed.Eventually(t, 20*time.Second, "requests flowing", func() bool { return mod.created.Load() > int64(20*(i+1)) })
		// A real change each time, so Caddy does not skip the reload.
		cfg := strings.Replace(s.config, "max_body 4KiB", fmt.Sprintf("max_body %dKiB", 5+i), 1)
		if code, body := s.caddy.Load(cfg); code != http.StatusOK {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
	}
	after := mod.created.Load()
	testbed.Eventually(t, 20*time.Second, "requests after the last reload", func() bool { return mod.created.Load() > after+20 })
	stop.Store(true)
	wg.Wait()
	t.Logf("through the module: %d created, %d connection errors; plain reverse_proxy: %d created, %d connection errors",
		mod.created.Load(), mod.connErrs.Load(), plain.created.Load(), plain.connErrs.Load())
	if httpErrs.Load() != 0 {
		t.Errorf("%d requests got an HTTP error during reloads (first: %v)", httpErrs.Load(), firstErr.Load())
	}
	s.caddy.Stop()
	stored := createdOrderIDs(t, s.storage)
	lost := 0
	for _, id := range mod.orders {
		if !stored[id] {
			lost++
		}
	}
	if lost != 0 {
		t.Errorf("%d of %d orders created through the module have no event", lost, len(mod.orders))
		for _, l := range logLines(s.caddy, "event_skipped") {
			t.Logf("skipped: %v", l)
		}
	}
	if n := strings.Count(s.caddy.Logs(), `"msg":"webhooks store opened"`); n != 1 {
		t.Errorf("store opened %d times across 4 reloads, want 1", n)
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
