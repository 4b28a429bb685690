package e2e_test

// The store's state on the management page (admin/ui/store.js), from the
// `store` object of GET /webhooks/stats of a real Caddy.

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/sys/unix"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// shownStore is what the page shows of the store.
type shownStore struct {
	Status   string `json:"status"`  // the section's data-status
	Backend  string `json:"backend"` // its data-backend
	Badge    string `json:"badge"`
	Degraded string `json:"degraded"` // the degraded note's text, "" when none
	Reason   string `json:"reason"`
	Since    string `json:"since"` // the datetime of the note's <time>
	Free     string `json:"free"`
	Reserve  string `json:"reserve"`
}

func (p *page) store() shownStore {
	p.t.Helper()
	return evalJS[shownStore](p, `(() => {
		const s = document.querySelector('#store > section.store');
		if (!s) return {};
		const text = sel => { const e = s.querySelector(sel); return e ? e.textContent.trim() : ''; };
		const since = s.querySelector('.store-degraded time');
		return {
			status: s.dataset.status, backend: s.dataset.backend, badge: text('.store-head .badge'),
			degraded: text('.store-degraded'), reason: text('.store-reason'), since: since ? since.getAttribute('datetime') : '',
			free: text('[data-fact="free"] dd'), reserve: text('[data-fact="reserve"] dd'),
		};
	})()`)
}

// storeHealth is the store object of GET /webhooks/stats.
func storeHealth(a testbed.API) map[string]any {
	return a.Expect(a.Do(http.MethodGet, "/webhooks/stats", nil), http.StatusOK).Object(a.T)["store"].(map[string]any)
}

// reserveShown is how the page says the store's reserve (56 MiB, see
// docs/operations.md).
const reserveShown = "56 MiB"

// checkFree fails the test unless shown (like "42.3 GiB") is within a
// tenth of free bytes: the free space moves between the page's request
// and the test's.
func checkFree(t *testing.T, shown string, free float64) {
	t.Helper()
	num, unit, _ := strings.Cut(shown, " ")
	v, err := strconv.ParseFloat(num, 64)
	exp := map[string]float64{"bytes": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}
	e, ok := exp[unit]
	if err != nil || !ok {
		t.Errorf("free space shown as %q, want a number and a binary unit", shown)
		return
	}
	if got := v * math.Exp2(e); math.Abs(got-free) > free/10 {
		t.Errorf("free space shown as %q (%.0f bytes), the store says %.0f", shown, got, free)
	}
}

// checkStoreOK checks that the page shows the badger store taking writes,
// with its free space against its reserve.
func checkStoreOK(t *testing.T, p *page, a testbed.API) {
	t.Helper()
	p.waitFor("the store's state", `document.querySelector('#store > section.store')?.dataset.status === 'ok'`)
	s := p.store()
	if s.Backend != "badger" || s.Badge != "OK" || s.Degraded != "" {
		t.Errorf("the store shown as %+v, want badger, OK, no degraded note", s)
	}
	if s.Reserve != reserveShown {
		t.Errorf("reserve shown as %q, want %q", s.Reserve, reserveShown)
	}
	checkFree(t, s.Free, storeHealth(a)["free_bytes"].(float64))
}

// tmpfs mounts a filesystem of size bytes at dir for the test, or skips
// the test where mounting is refused (not root, no privilege).
func tmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): the store's degraded state needs root", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

// resize grows or shrinks the tmpfs at dir (another program taking or
// giving back room on the store's disk).
func resize(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("resizing the tmpfs to %d bytes: %v", size, err)
	}
}

// TestManagementPageStoreState shows a store whose disk is short of space
// as an admin sees it: Caddy started on a small tmpfs (the store not
// open), the disk grown (the store opens and takes writes: its free space
// against its reserve), then shrunk below the reserve (degraded, with the
// reason and since when), each after the page's Refresh. Screen readers
// hear each change once.
func TestManagementPageStoreState(t *testing.T) {
	t.Parallel()
	chrome := chromium(t)
	dir := t.TempDir()
	disk := filepath.Join(dir, "webhooks")
	const small, large = 32 << 20, 256 << 20 // below the reserve (56 MiB), above it
	tmpfs(t, disk, small)
	rcv := newHookReceiver(t)
	up := testbed.OrdersApp(t)
	c := testbed.StartCaddy(t, dir, uiCaddyfile(testbed.FreePort(t), up.Listener.Addr().String(), testbed.WriteOrderRules(t), rcv.srv.URL))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	origin := "http://" + c.AdminAddr
	p := openBrowser(t, chrome, origin)
	live := `document.getElementById('store-live').textContent`

	// Started on a full disk: the store is not open, and says why.
	p.do(chromedp.EmulateViewport(1280, 960), chromedp.Navigate(origin+"/webhooks/ui/"))
	p.waitFor("the store degraded", `document.querySelector('#store > section.store')?.dataset.status === 'degraded'`)
	s := p.store()
	if s.Badge != "Degraded" || !strings.Contains(s.Degraded, "takes no writes") || !strings.Contains(s.Reason, "the store is not open") {
		t.Errorf("a store not open shown as %+v", s)
	}
	if s.Since != "" || s.Free != "" {
		t.Errorf("a store not open has no since nor figures; shown: %+v", s)
	}
	if got := evalJS[string](p, live); !strings.Contains(got, "takes no writes") {
		t.Errorf("store-live says %q, want the store degraded announced", got)
	}
	p.checkLabels("the list, store degraded")
	p.shot("ui-store-not-open")

	// Room again: the store opens by itself (every 2 s); Refresh shows it.
	resize(t, disk, large)
	testbed.Eventually(t, 15*time.Second, "the store open", func() bool { return storeHealth(a)["status"] == "ok" })
	p.click(`#refresh`)
	checkStoreOK(t, p, a)
	if got := evalJS[string](p, live); got != "The store takes writes again." {
		t.Errorf("store-live says %q, want the store taking writes again announced", got)
	}

	// Another program takes the room: the store stops writing.
	resize(t, disk, small)
	testbed.Eventually(t, 10*time.Second, "the store degraded", func() bool { return storeHealth(a)["status"] == "degraded" })
	h := storeHealth(a)
	p.click(`#refresh`)
	p.waitFor("the degraded store", `document.querySelector('#store > section.store')?.dataset.status === 'degraded'`)
	s = p.store()
	if s.Backend != "badger" || s.Badge != "Degraded" || !strings.Contains(s.Reason, "writes stop below 58720256") {
		t.Errorf("the degraded store shown as %+v (its health %v)", s, h)
	}
	if s.Since == "" || s.Since != h["since"] || !strings.Contains(s.Degraded, " since ") {
		t.Errorf("degraded since %q shown as %q in %q", h["since"], s.Since, s.Degraded)
	}
	if s.Reserve != reserveShown {
		t.Errorf("reserve shown as %q, want %q", s.Reserve, reserveShown)
	}
	checkFree(t, s.Free, h["free_bytes"].(float64))
	if got := evalJS[string](p, live); !strings.Contains(got, "takes no writes") || !strings.Contains(got, "writes stop below") {
		t.Errorf("store-live says %q, want the store degraded announced with its reason", got)
	}
	p.shot("ui-store-degraded")

	// A refresh with nothing changed says nothing more.
	evalJS[string](p, `document.getElementById('store-live').textContent = 'unchanged'`)
	evalJS[string](p, `document.querySelector('#store > section.store').dataset.old = 'yes'`)
	p.click(`#refresh`)
	p.waitFor("the store redrawn", `document.querySelector('#store > section.store')?.dataset.old === undefined`)
	if got := evalJS[string](p, live); got != "unchanged" {
		t.Errorf("store-live says %q after a refresh that changed nothing", got)
	}

	// A phone: the degraded panel fits the screen.
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	p.waitFor("no sideways scrolling on a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	p.shot("ui-store-degraded-phone")
	p.checkProblems()
}
