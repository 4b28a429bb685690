package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// caddyReload runs the real `caddy reload` on the Caddyfile the process
// was started with, as an operator would, and returns its output and
// whether it succeeded.
func caddyReload(t *testing.T, c *testbed.Caddy) (string, bool) {
	t.Helper()
	cmd := exec.Command(testbed.CaddyBinary(t), "reload", "--config", filepath.Join(c.Dir, "Caddyfile"), "--address", c.AdminAddr)
	cmd.Dir = testbed.Root()
	cmd.Env = append(os.Environ(), "HOME="+c.Dir, "XDG_DATA_HOME="+filepath.Join(c.Dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(c.Dir, "config"))
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// eventNames returns the event catalogue of the running config, from the
// admin endpoint's GET /webhooks/events.
func eventNames(t *testing.T, c *testbed.Caddy) []string {
	t.Helper()
	resp, err := http.Get("http://" + c.AdminAddr + "/webhooks/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil {
		t.Fatalf("GET /webhooks/events: %d: %v", resp.StatusCode, err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Name)
	}
	return names
}

// TestCaddyReloadAfterRuleFileEdit edits only the rule file and runs
// `caddy reload`: the new rules apply (Caddy skips a reload whose JSON is
// unchanged, so the adapter's digest of the file must change it). Then it
// breaks the file: `caddy reload` fails with file:line and the running
// rules serve on.
func TestCaddyReloadAfterRuleFileEdit(t *testing.T) {
	s := startStack(t, testRules, "")
	if resp, out := post(t, s.module+"/api/orders", `{"total":1,"site":"a"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("before the edit: %d %s", resp.StatusCode, out)
	}

	writeFile(t, s.rulePath, strings.Replace(testRules, "name: order.created", "name: order.placed", 1))
	if out, ok := caddyReload(t, s.caddy); !ok {
		t.Fatalf("caddy reload after editing the rule file failed:\n%s", out)
	}
	if names := eventNames(t, s.caddy); !slices.Contains(names, "order.placed") || slices.Contains(names, "order.created") {
		t.Fatalf("after caddy reload the catalogue is %v: the edited rule file was not loaded", names)
	}
	if resp, out := post(t, s.module+"/api/orders", `{"total":2,"site":"b"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the edit: %d %s", resp.StatusCode, out)
	}

	writeFile(t, s.rulePath, "events:\n  - name: x.y\n    match: { method: POST, path: /a, status: 2xz }\n")
	out, ok := caddyReload(t, s.caddy)
	if ok {
		t.Fatalf("caddy reload accepted a broken rule file:\n%s", out)
	}
	if !strings.Contains(out, s.rulePath+":3:") {
		t.Errorf("caddy reload output does not say file:line (%s:3:):\n%s", s.rulePath, out)
	}
	if names := eventNames(t, s.caddy); !slices.Contains(names, "order.placed") {
		t.Errorf("after the failed reload the catalogue is %v, want the running rules", names)
	}
	if resp, out := post(t, s.module+"/api/orders", `{"total":3,"site":"c"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the failed reload: %d %s", resp.StatusCode, out)
	}

	s.caddy.Stop()
	evs := storedEvents(t, s.storage)
	if n, m := len(byName(evs, "order.created")), len(byName(evs, "order.placed")); n != 1 || m != 2 {
		t.Errorf("stored %d order.created (want 1, before the edit) and %d order.placed (want 2, after it)", n, m)
	}
}
