package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// diskRules infer order.created with a payload of a few KiB, so that a
// few hundred requests fill megabytes.
const diskRules = `events:
  - name: order.created
    match: { method: POST, path: /api/orders, status: 201 }
    data: { orderId: response.body.id, notes: response.body.notes }
`

// tmpfs mounts a filesystem of size bytes at dir for the test, or skips
// the test where mounting is refused (not root, no privilege).
func tmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v): the disk-full test needs root", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

func freeOn(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill grows the file filler on dir's filesystem until only left bytes
// are free (another program filling the disk).
func fill(t *testing.T, dir string, left int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "filler"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	grow := freeOn(t, dir) - left
	if grow <= 0 {
		return
	}
	if err := unix.Fallocate(int(f.Fd()), 0, fi.Size(), grow); err != nil {
		t.Fatalf("filling the disk: %v", err)
	}
}

// diskApp answers each created order with a few KiB; the answer's bytes
// are what the client must get through the module, full disk or not.
func diskApp(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	n := 0
	notes := strings.Repeat("n", 3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		id := n
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"o%d","notes":%q}`, id, notes)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// receiver records the orderId of each delivery.
type diskReceiver struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (rc *diskReceiver) has(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.ids[id]
}

func newDiskReceiver(t *testing.T) (*diskReceiver, *httptest.Server) {
	rc := &diskReceiver{ids: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Data struct{ OrderID string } }
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.ids[env.Data.OrderID] = true
		rc.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return rc, srv
}

// TestDiskFull: the store's disk filling up (through the module's own
// events, then by another program) never costs a client its answer nor
// Caddy its life: events are skipped and logged whole, the store reports
// itself degraded, and storing and delivery resume by themselves once
// there is room again, also after a restart on the full disk.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "webhooks")
	tmpfs(t, disk, 192<<20)
	app := diskApp(t)
	rc, recv := newDiskReceiver(t)
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(diskRules), 0o600); err != nil {
		t.Fatal(err)
	}
	mp, pp := testbed.FreePort(t), testbed.FreePort(t)
	cfg := caddyfileFor(mp, pp, app.Listener.Addr().String(), rulePath, fmt.Sprintf(`allow_private_targets
		retry 1s
		subscription recv {
			url %s/hook
			events order.created
			secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
			rate_limit 100000/s
		}`, recv.URL))
	module, plain := fmt.Sprintf("http://127.0.0.1:%d", mp), fmt.Sprintf("http://127.0.0.1:%d", pp)

	// Room for the reserve and a little more: the module's own events
	// take the store below it.
	reserve := storeReserve(t)
	fill(t, disk, reserve+4<<20)
	c := testbed.StartCaddy(t, dir, cfg)
	t.Cleanup(func() { // registered after StartCaddy's: runs before Caddy stops
		if t.Failed() {
			out := c.Output() + c.Logs()
			t.Logf("Caddy's output and log, their last 8000 bytes:\n%s", out[max(0, len(out)-8000):])
		}
	})
	if h := health(t, c); h.Status != "ok" {
		t.Fatalf("store at start: %+v", h)
	}
	create := func() string { // one order through the module, its answer checked against the plain site's
		t.Helper()
		got, err := postBytes(module + "/api/orders")
		want, err2 := postBytes(plain + "/api/orders")
		if err = errors.Join(err, err2); err != nil {
			testbed.Eventually(t, 15*time.Second, "caddy gone after "+err.Error(), func() bool { return c.Exited() != nil })
			t.Fatalf("caddy died: %v\n%s", c.Exited(), tail(c.Output()))
		}
		// The app numbers its orders: all else is the same.
		if !bytes.Equal(orderID.ReplaceAll(got, nil), orderID.ReplaceAll(want, nil)) {
			t.Fatalf("answer through the module differs:\n%.80s\n%.80s", got, want)
		}
		return string(orderID.FindSubmatch(got)[1])
	}
	first := create()
	testbed.Eventually(t, 15*time.Second, "the first order delivered", func() bool { return rc.has(first) })
	for i := 0; health(t, c).Status == "ok"; i++ {
		if i > 3000 {
			t.Fatalf("the store never stopped: %+v", health(t, c))
		}
		create()
	}
	h := health(t, c)
	if !strings.Contains(h.Reason, "writes stop below") || h.ReserveBytes != storeReserve(t) {
		t.Errorf("degraded health: %+v", h)
	}

	// Another program takes the rest: Badger must not be written to.
	fill(t, disk, 64<<10)
	var skipped []string
	for range 200 {
		skipped = append(skipped, create())
	}
	resp, err := http.Get(plain + "/anything")
	if err != nil {
		t.Fatalf("a site without the module: %v", err)
	}
	resp.Body.Close()
	testbed.Eventually(t, 10*time.Second, "a store_unavailable log line with its whole envelope for each order", func() bool {
		lost := skippedWhole(t, c)
		for _, id := range skipped {
			if !lost[id] {
				return false
			}
		}
		return true
	})
	if !strings.Contains(metricsText(t, c), "caddy_webhooks_store_degraded 1") {
		t.Error("caddy_webhooks_store_degraded is not 1 on a full disk")
	}

	// The disk grows: storing and delivery resume without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=512m", disk).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, out)
	}
	testbed.Eventually(t, 10*time.Second, "the store writable again", func() bool { return health(t, c).Status == "ok" })
	later := create()
	testbed.Eventually(t, 10*time.Second, "an order after the disk grew delivered", func() bool { return rc.has(later) })

	// Full again, and Caddy stopped and started on the full disk: it
	// stops cleanly and starts degraded (not a crash loop), then opens
	// the store by itself once there is room.
	fill(t, disk, 64<<10)
	testbed.Eventually(t, 10*time.Second, "the store degraded again", func() bool { return health(t, c).Status == "degraded" })
	c.Stop()
	if st := c.Exited(); st == nil || !st.Success() {
		t.Fatalf("caddy stopped on a full disk with %v\n%s", st, tail(c.Output()))
	}
	c = testbed.StartCaddy(t, dir, cfg)
	if h := health(t, c); h.Status != "degraded" || !strings.Contains(h.Reason, "not open") {
		t.Errorf("health after a start on a full disk: %+v", h)
	}
	for range 20 {
		create()
	}
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 15*time.Second, "the store opened once there is room", func() bool { return health(t, c).Status == "ok" })
	last := create()
	testbed.Eventually(t, 10*time.Second, "an order after the store opened delivered", func() bool { return rc.has(last) })
	if !rc.has(first) || rc.has(skipped[0]) {
		t.Errorf("deliveries: first %v, skipped %v", rc.has(first), rc.has(skipped[0]))
	}
}

var orderID = regexp.MustCompile(`"id":"(o[0-9]+)"`)

// storeReserve is the free space below which the store stops writing, as
// its health reports it (the test's own store is not started yet).
func storeReserve(t *testing.T) int64 {
	t.Helper()
	return 56 << 20 // (2 memtables + 5 level-0 tables) × 8 MiB; checked against the health below
}

type healthView struct {
	Status       string `json:"status"`
	Reason       string `json:"reason"`
	FreeBytes    int64  `json:"free_bytes"`
	ReserveBytes int64  `json:"reserve_bytes"`
}

func health(t *testing.T, c *testbed.Caddy) healthView {
	t.Helper()
	resp, err := http.Get("http://" + c.AdminAddr + "/webhooks/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Store healthView }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d %v", resp.StatusCode, err)
	}
	if v.Store.ReserveBytes != 0 && v.Store.ReserveBytes != storeReserve(t) {
		t.Fatalf("reserve %d, the test assumes %d", v.Store.ReserveBytes, storeReserve(t))
	}
	return v.Store
}

func postBytes(url string) ([]byte, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusCreated {
		err = fmt.Errorf("POST %s: %d", url, resp.StatusCode)
	}
	return b, err
}

// skippedWhole returns the orders whose events were logged whole, at
// error level, as not stored for lack of a store.
func skippedWhole(t *testing.T, c *testbed.Caddy) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, l := range logLines(c, "event_skipped") {
		env, _ := l["envelope"].(map[string]any)
		data, _ := env["data"].(map[string]any)
		if l["level"] != "error" || l["reason"] != "store_unavailable" || env["event"] != "order.created" ||
			env["id"] == nil || env["timestamp"] == nil || len(fmt.Sprint(data["notes"])) != 3000 {
			continue
		}
		out[fmt.Sprint(data["orderId"])] = true
	}
	return out
}

func metricsText(t *testing.T, c *testbed.Caddy) string {
	t.Helper()
	resp, err := http.Get("http://" + c.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// tail is the end of a process's output, or from where it crashed.
func tail(s string) string {
	for _, mark := range []string{"unexpected fault address", "fatal error", "panic:"} {
		if i := strings.Index(s, mark); i >= 0 {
			s = s[i:]
			break
		}
	}
	if len(s) > 4000 {
		return s[:4000]
	}
	return s
}
