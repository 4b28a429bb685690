package e2e_test

// The management page in a real browser: headless Chromium, driven by
// chromedp, against a real Caddy (internal/testbed) in front of a real
// upstream, delivering to a real receiver that verifies signatures with
// the signer package.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// chromium returns the browser to drive: $CHROMIUM, or Debian's chromium.
// Without one the test fails in CI (CI set, as .ci/run runs), where
// .ci/run installs it, and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium: install Debian's chromium package (apt-get install chromium), or set CHROMIUM to a Chrome or Chromium binary"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: the browser test must run)")
	}
	t.Skip(msg)
	return ""
}

// uiCaddyfile is the config of the browser test: the admin endpoint with
// the origins setting docs/management-page.md gives for opening the page (see
// TestAdminOriginChecks in admin/ui_origin_test.go), a subscription declared in the config, and the
// handler in front of upstream. Deliveries go to loopback receivers, so
// private targets are allowed.
func uiCaddyfile(sitePort int, upstream, rulesPath, receiverURL string) string {
	return uiCaddyfileOn("{DIR}/webhooks", sitePort, upstream, rulesPath, receiverURL)
}

// uiCaddyfileOn is uiCaddyfile with the webhooks app's storage given: the
// arguments of its storage option, a block included (nats { … }).
func uiCaddyfileOn(storage string, sitePort int, upstream, rulesPath, receiverURL string) string {
	return fmt.Sprintf(`{
	admin {ADMIN} {
		origins {ADMIN} ""
	}
	auto_https off
	persist_config off
	log {
		output file {LOG}
		format json
		level DEBUG
	}
	webhooks {
		storage %s
		allow_private_targets
		retry 1s
		subscription workflow {
			url %s/workflow
			events order.created
			secret %s
			signature sha256
		}
	}
}
http://127.0.0.1:%d {
	webhooks {
		rules %s
		learn
	}
	reverse_proxy %s
}
`, storage, receiverURL, configSecret, sitePort, rulesPath, upstream)
}

const configSecret = "config-secret-0123456789"

// TestManagementPageInBrowser walks every screen of the page as a person
// would: the list (with a subscription declared in the config, and the
// store taking writes with its free space), the form
// and its errors, create, edit, the secret shown once and copied, rotate,
// test, the deliveries of an inferred event with their attempts,
// redeliver, resume a paused subscription, delete after a confirmation,
// and the layout on a phone. It saves a screenshot of each screen.
func TestManagementPageInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromium(t)
	rcv := newHookReceiver(t)
	rcv.expect("/workflow", signer.SHA256, configSecret)
	up := testbed.OrdersApp(t)
	sitePort := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", uiCaddyfile(sitePort, up.Listener.Addr().String(), testbed.WriteOrderRules(t), rcv.srv.URL))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	origin := "http://" + c.AdminAddr
	p := openBrowser(t, chrome, origin)

	// The list, with the config subscription read-only.
	p.do(chromedp.EmulateViewport(1280, 960), chromedp.Navigate(origin+"/webhooks/ui"))
	p.waitFor("the list shows the config subscription", `!!document.querySelector('article.sub[data-id="sub_workflow"]')`)
	if loc := evalJS[string](p, `location.pathname`); loc != "/webhooks/ui/" {
		t.Errorf("/webhooks/ui did not redirect to /webhooks/ui/: at %s", loc)
	}
	p.waitFor("the stats line", `document.getElementById('stats').textContent.includes('1 subscription')`)
	checkStoreOK(t, p, a)
	cfg := `article.sub[data-id="sub_workflow"]`
	if text := p.text(cfg); !strings.Contains(text, "subscription workflow") || !strings.Contains(text, "Config") {
		t.Errorf("the config subscription does not say where it comes from: %q", text)
	}
	if n := evalJS[int](p, `document.querySelectorAll('`+cfg+` [data-action="edit"], `+cfg+` [data-action="delete"], `+cfg+` [data-action="rotate"]').length`); n != 0 {
		t.Errorf("the config subscription has %d edit/delete/rotate buttons, want none", n)
	}
	p.checkLabels("the list")
	p.shot("ui-list-start")

	// The keyboard reaches "New subscription" and opens the form; Escape
	// closes it.
	p.do(chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	for i := 0; i < 5 && evalJS[string](p, `document.activeElement.id`) != "new"; i++ {
		p.do(chromedp.KeyEvent(kb.Tab))
	}
	p.do(chromedp.KeyEvent(kb.Enter))
	p.waitFor("the form opens from the keyboard", `document.getElementById('editor').open`)
	p.waitFor("the focus on the URL field", `document.activeElement.id === 'f-url'`)
	p.do(chromedp.KeyEvent(kb.Escape))
	p.waitFor("Escape closes the form", `!document.getElementById('editor').open`)

	// Create: first with nothing filled in, which the page refuses
	// itself (a URL is required, and at least one event).
	p.click(`#new`)
	p.waitFor("the form", `document.getElementById('editor').open`)
	p.checkLabels("the form")
	p.click(`#editor-submit`)
	p.waitFor("errors on the URL and the events",
		`document.getElementById('f-url-error').textContent !== '' && document.getElementById('f-events-error').textContent !== ''`)
	if got := p.text(`#f-url-error`); !strings.Contains(got, "URL") {
		t.Errorf("URL error %q", got)
	}
	if got := p.text(`#f-events-error`); !strings.Contains(got, "event") {
		t.Errorf("events error %q", got)
	}
	if n := len(a.ListSubs("")); n != 1 {
		t.Fatalf("the invalid form reached the API: %d subscriptions", n)
	}
	p.shot("ui-form-errors")

	// Then filled in, with a secret the API refuses: its error shows
	// next to the secret field.
	hooks := rcv.srv.URL + "/hooks"
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-url`), hooks),
		chromedp.SendKeys(chromedp.CSS(`#f-app_name`), "Shop receiver"),
		chromedp.SendKeys(chromedp.CSS(`#f-description`), "Orders to the ERP"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="order.created"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-patterns`), "customer.*"),
	)
	p.waitFor("the errors gone once the fields are filled in",
		`document.getElementById('f-url-error').textContent === '' && document.getElementById('f-events-error').textContent === ''`)
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('editor').scrollTop = 0`))
	p.shot("ui-form")
	p.do(chromedp.SendKeys(chromedp.CSS(`#f-secret`), "too-short"))
	p.click(`#editor-submit`)
	p.waitFor("the API's error on the secret", `document.getElementById('f-secret-error').textContent.includes('whsec_')`)
	if evalJS[string](p, `document.getElementById('f-secret').getAttribute('aria-invalid')`) != "true" {
		t.Errorf("the secret field is not marked invalid")
	}
	if p.text(`#f-url-error`) != "" || p.text(`#f-events-error`) != "" {
		t.Errorf("errors of the first try left on the form")
	}
	p.shot("ui-form-api-error")

	// Without the secret the API generates one, shown once and copied.
	p.clearField(`#f-secret`)
	p.click(`#editor-submit`)
	p.waitFor("the new secret", `document.getElementById('secret').open && document.getElementById('secret-value').value.startsWith('whsec_')`)
	secret1 := p.copySecret()
	if !strings.HasPrefix(secret1, "whsec_") {
		t.Fatalf("copied secret %q", secret1)
	}
	p.shot("ui-secret-created")
	p.click(`#secret [data-close]`)
	rcv.expect("/hooks", signer.Standard, secret1)

	subs := a.ListSubs("")
	var id string
	for _, s := range subs {
		if s["app_name"] == "Shop receiver" {
			id = testbed.Str(s["id"])
			if s["url"] != hooks || s["description"] != "Orders to the ERP" || strings.Join(testbed.Strs(s["events"]), " ") != "order.created customer.*" {
				t.Errorf("created through the form: %v", s)
			}
		}
	}
	if id == "" {
		t.Fatalf("the form created no subscription: %v", subs)
	}
	card := `article.sub[data-id="` + id + `"]`
	p.waitFor("the new card", `!!document.querySelector('`+card+`')`)

	// Edit: the form comes filled in; add an event, change the description.
	p.click(card + ` [data-action="edit"]`)
	p.waitFor("the edit form", `document.getElementById('editor').open && document.getElementById('f-url').value === '`+hooks+`'`)
	if !evalJS[bool](p, `document.querySelector('input[name="event"][value="order.created"]').checked`) || p.value(`#f-patterns`) != "customer.*" {
		t.Errorf("the edit form does not show the events: patterns %q", p.value(`#f-patterns`))
	}
	p.clearField(`#f-description`)
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-description`), "Orders and payments to the ERP"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="order.paid"]`)),
	)
	p.shot("ui-form-edit")
	p.click(`#editor-submit`)
	p.waitFor("the edited card", `!document.getElementById('editor').open && document.querySelector('`+card+`').textContent.includes('order.paid')`)
	if s := a.Get(id); s["description"] != "Orders and payments to the ERP" || !slices.Contains(testbed.Strs(s["events"]), "order.paid") || s["rate_limit"] != "100/m" {
		t.Errorf("after the edit: %v", s)
	}

	// Test: reaches the receiver, signed with the copied secret.
	p.sendTest(card)
	rcv.waitFor(t, "a verified webhook.test signed with the created secret", func(r received) bool {
		return r.path == "/hooks" && r.event == "webhook.test" && r.verifyErr == nil
	})

	// Rotate with the default 24h grace period: the new secret is shown
	// once, copied, and the page says how long the old one stays valid.
	p.click(card + ` [data-action="rotate"]`)
	p.waitFor("the rotate dialog", `document.getElementById('rotate').open`)
	if hint := p.text(`#rotate-grace-hint`); !strings.Contains(hint, "two signatures") {
		t.Errorf("rotate hint for a standard subscription: %q", hint)
	}
	p.checkLabels("the rotate dialog")
	p.shot("ui-rotate")
	p.click(`#rotate [type="submit"]`)
	p.waitFor("the rotated secret", `document.getElementById('secret').open && document.getElementById('secret-value').value !== '`+secret1+`'`)
	secret2 := p.copySecret()
	if !strings.HasPrefix(secret2, "whsec_") || secret2 == secret1 {
		t.Fatalf("rotated secret %q (was %q)", secret2, secret1)
	}
	if grace := p.text(`#secret-grace`); !strings.Contains(grace, "stays valid until") || !strings.Contains(grace, "24h") {
		t.Errorf("grace period not shown: %q", grace)
	}
	p.shot("ui-secret-rotated")
	p.click(`#secret [data-close]`)
	rcv.expect("/hooks", signer.Standard, secret2)
	rcv.reset()

	// Test again: the receiver verifies it with the copied new secret.
	p.sendTest(card)
	p.shot("ui-test")
	rcv.waitFor(t, "a verified webhook.test signed with the rotated secret, and the previous one during the grace period", func(r received) bool {
		return r.path == "/hooks" && r.event == "webhook.test" && r.verifyErr == nil && strings.Count(r.signature, "v1,") == 2
	})

	// An inferred event whose delivery fails at once (400), seen in the
	// deliveries with its attempt, then redelivered once the receiver
	// accepts it.
	rcv.answer("/hooks", http.StatusBadRequest)
	postOrder(t, sitePort)
	testbed.Eventually(t, 20*time.Second, "the order.created delivery failed", func() bool {
		return len(a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id+"/deliveries?status=failed", nil), http.StatusOK).List(t)) == 1
	})
	p.click(card + ` [data-action="deliveries"]`)
	p.waitFor("the failed delivery with its attempt",
		`!!document.querySelector('#dlv-list article.dlv[data-status="failed"] .attempts tbody tr') && document.querySelector('#dlv-list article.dlv[data-status="failed"]').textContent.includes('400')`)
	p.checkLabels("the deliveries")
	p.shot("ui-deliveries-failed")
	rcv.answer("/hooks", http.StatusOK)
	p.click(`#dlv-list article.dlv[data-status="failed"] [data-action="redeliver"]`)
	p.waitFor("the redelivery succeeded, as a second attempt",
		`(() => { const d = document.querySelector('#dlv-list article.dlv[data-status="succeeded"]'); return !!d && d.querySelectorAll('.attempts tbody tr').length === 2 && d.textContent.includes('redelivered'); })()`)
	p.shot("ui-deliveries")
	rcv.waitFor(t, "the redelivered order.created, attempt 2, verified with the rotated secret", func(r received) bool {
		return r.path == "/hooks" && r.event == "order.created" && r.attempt == "2" && r.verifyErr == nil
	})
	p.click(`#deliveries [data-close]`)
	p.waitFor("the deliveries closed", `!document.getElementById('deliveries').open`)

	// Resume: a subscription that a 410 paused shows why, and resumes.
	gone := a.Create(map[string]any{"app_name": "Gone app", "url": rcv.srv.URL + "/gone", "events": []string{"order.created"}, "signature": "hex"})
	goneID := testbed.Str(gone["id"])
	rcv.expect("/gone", signer.Hex, testbed.Str(gone["secret"]))
	rcv.answer("/gone", http.StatusGone)
	postOrder(t, sitePort)
	testbed.Eventually(t, 20*time.Second, "the 410 paused the subscription", func() bool {
		return a.Get(goneID)["is_active"] == false
	})
	// The receiver's stats: the redelivered order and the second one
	// sent, the first attempt failed (stats are written in batches).
	testbed.Eventually(t, 20*time.Second, "the receiver's stats", func() bool {
		st := a.Get(id)["stats"].(map[string]any)
		return st["total_sent"] == 2.0 && st["total_failed"] == 1.0
	})
	goneCard := `article.sub[data-id="` + goneID + `"]`
	p.click(`#refresh`)
	p.waitFor("the paused card with its reason", `!!document.querySelector('`+goneCard+` .paused-note') && document.querySelector('`+goneCard+`').textContent.includes('410')`)
	stats := evalJS[[]string](p, `[...document.querySelectorAll('`+card+` .stats-grid dd')].map(d => d.textContent)`)
	if len(stats) < 4 || stats[0] != "2" || stats[1] != "1" || stats[2] == "never" || !strings.Contains(stats[3], "400") {
		t.Errorf("the card's sent, failed, last sent, last error: %q", stats)
	}
	p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	p.shot("ui-list")
	p.click(goneCard + ` [data-action="resume"]`)
	p.waitFor("the resumed card", `!!document.querySelector('`+goneCard+`') && !document.querySelector('`+goneCard+` .paused-note')`)
	if s := a.Get(goneID); s["is_active"] != true || s["disabled_reason"] != nil || s["stats"].(map[string]any)["consecutive_failures"] != 0.0 {
		t.Errorf("after Resume: %v", s)
	}

	// Delete, after a confirmation that names the subscription; the
	// focus starts on Cancel, and Escape cancels.
	p.click(card + ` [data-action="delete"]`)
	p.waitFor("the confirmation", `document.getElementById('delete').open`)
	if title, lead := p.text(`#delete-title`), p.text(`#delete-lead`); !strings.Contains(title, "Shop receiver") || !strings.Contains(lead, hooks) {
		t.Errorf("the confirmation does not name the subscription: %q / %q", title, lead)
	}
	if f := evalJS[string](p, `document.activeElement.textContent`); f != "Cancel" {
		t.Errorf("the confirmation's focus is on %q, want Cancel", f)
	}
	p.shot("ui-delete")
	p.do(chromedp.KeyEvent(kb.Escape))
	p.waitFor("Escape cancels", `!document.getElementById('delete').open`)
	a.Get(id) // still there
	p.click(card + ` [data-action="delete"]`)
	p.waitFor("the confirmation", `document.getElementById('delete').open`)
	p.click(`#delete-confirm`)
	p.waitFor("the card gone", `!document.querySelector('`+card+`') && !document.getElementById('delete').open`)
	a.APIError(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id, nil), http.StatusNotFound)

	// Recent events: an order placed now shows without a reload; a bad
	// filter says what is wrong, and clearing it lists everything again.
	recent := `document.querySelectorAll('#recent-list li.recent').length`
	before := evalJS[int](p, recent)
	postOrder(t, sitePort)
	p.waitFor("the new event in the recent events, live", fmt.Sprintf(`%s > %d`, recent, before))
	if got := p.text(`#recent-list li.recent`); !strings.Contains(got, "order.created") || !strings.Contains(got, "orderId") {
		t.Errorf("the newest recent event reads %q, want order.created with its data", got)
	}
	setFilter := func(v string) {
		p.do(chromedp.Evaluate[chromedp.Void](`(() => { const f = document.getElementById('recent-event'); f.value = ` + jsString(v) + `; f.dispatchEvent(new Event('change')); })()`))
	}
	setFilter("order..x")
	p.waitFor("the filter's error", `document.getElementById('recent-error').textContent.includes('Event')`)
	setFilter("customer.*")
	p.waitFor("no customer events", `document.getElementById('recent-error').hidden && `+recent+` === 0`)
	setFilter("")
	p.waitFor("every event again", recent+` > 0`)
	p.checkLabels("the recent events")
	p.shot("ui-recent-events")

	// Filter and transformation: the API's error shows beside the field,
	// the preview runs the transformation on the newest stored order.
	p.click(`#new`)
	p.waitFor("the form", `document.getElementById('editor').open`)
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-url`), rcv.srv.URL+"/filtered"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="order.created"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('details.advanced').open = true`),
		chromedp.SendKeys(chromedp.CSS(`#f-filter`), `data.orderId ==`),
		chromedp.SendKeys(chromedp.CSS(`#f-transform`), `{"order": data.orderId, "via": "caddy"}`),
		chromedp.Click(chromedp.CSS(`#f-ordered`)),
	)
	p.click(`#f-transform-try`)
	p.waitFor("the preview", `document.getElementById('f-transform-preview').textContent.includes('"order": "ord1"')`)
	p.shot("ui-form-transform-preview")
	p.click(`#editor-submit`)
	p.waitFor("the filter's error beside it", `document.getElementById('f-filter-error').textContent.includes('Syntax error')`)
	p.clearField(`#f-filter`)
	p.do(chromedp.SendKeys(chromedp.CSS(`#f-filter`), `data.orderId == "ord1"`))
	p.click(`#editor-submit`)
	p.waitFor("the form closed, the secret shown", `!document.getElementById('editor').open && document.getElementById('secret').open`)
	p.click(`#secret [data-close]`)
	p.waitFor("the secret closed", `!document.getElementById('secret').open`)
	var filtered map[string]any
	for _, s := range a.ListSubs("") {
		if testbed.Str(s["url"]) == rcv.srv.URL+"/filtered" {
			filtered = s
		}
	}
	if filtered == nil || filtered["filter"] != `data.orderId == "ord1"` || filtered["transform"] != `{"order": data.orderId, "via": "caddy"}` || filtered["ordered"] != true {
		t.Errorf("the subscription saved from the form: %v", filtered)
	} else {
		meta := `article.sub[data-id="` + testbed.Str(filtered["id"]) + `"] p.meta`
		p.waitFor("its card says it is ordered", `(document.querySelector('`+meta+`') || {textContent: ''}).textContent.includes('ordered')`)
		a.Expect(a.Do(http.MethodDelete, "/webhooks/subscriptions/"+testbed.Str(filtered["id"]), nil), http.StatusNoContent)
	}

	// An ed25519 subscription: no secret to give, the public key shown.
	p.click(`#new`)
	p.waitFor("the form", `document.getElementById('editor').open`)
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-url`), rcv.srv.URL+"/signed"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="order.created"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('f-signature'); s.value = 'ed25519'; s.dispatchEvent(new Event('change')); })()`),
	)
	p.waitFor("the secret field off", `document.getElementById('f-secret').disabled`)
	p.click(`#editor-submit`)
	p.waitFor("the public key shown", `document.getElementById('secret').open && document.getElementById('secret-value').value.startsWith('whpk_')`)
	if label := p.text(`#secret-label`); label != "Public key" {
		t.Errorf("the dialog labels the key %q", label)
	}
	shown := p.value(`#secret-value`)
	p.shot("ui-ed25519-public-key")
	p.click(`#secret [data-close]`)
	p.waitFor("the dialog closed", `!document.getElementById('secret').open`)
	for _, s := range a.ListSubs("") {
		if testbed.Str(s["url"]) != rcv.srv.URL+"/signed" {
			continue
		}
		if s["signature"] != "ed25519" || s["public_key"] != shown || s["secret_hint"] != nil {
			t.Errorf("the ed25519 subscription: %v (the page showed %s)", s, shown)
		}
		a.Expect(a.Do(http.MethodDelete, "/webhooks/subscriptions/"+testbed.Str(s["id"]), nil), http.StatusNoContent)
	}

	// Learn: the routes the handler saw and the rules proposed from them.
	// Clicked from script: the live list of recent events above it may
	// move it between the mouse's aim and its click.
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('learn-refresh').click()`))
	p.waitFor("the Learn view with the orders route", `!document.getElementById('learn-section').hidden && `+
		`document.getElementById('learn-routes').textContent.includes('/api/orders')`)
	p.waitFor("the proposal", `document.getElementById('learn-rules').textContent.startsWith('# Rules proposed')`)
	if got := p.text(`#learn-stats`); !strings.Contains(got, "requests observed") {
		t.Errorf("the Learn view's counts read %q", got)
	}
	p.checkLabels("the Learn view")
	p.shot("ui-learn")

	// A phone: one column, nothing wider than the screen.
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	p.waitFor("no sideways scrolling on a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	p.shot("ui-phone-list")
	p.click(`#new`)
	p.waitFor("the form on a phone", `document.getElementById('editor').open`)
	if !evalJS[bool](p, `(() => { const r = document.getElementById('editor').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; })()`) {
		t.Errorf("the form is wider than a phone's screen")
	}
	p.shot("ui-phone-form")

	// Nothing the page did was refused by Caddy's admin checks (Origin,
	// Host, no-cors), and the page raised no error.
	p.checkProblems()
	for _, l := range c.LogLines() {
		if testbed.Str(l["logger"]) == "admin.api" && testbed.Str(l["msg"]) == "request error" {
			t.Errorf("Caddy's admin endpoint refused a request of the page: %v", l)
		}
	}
}

// postOrder makes the upstream create an order through Caddy: an
// order.created event.
func postOrder(t *testing.T, sitePort int) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/orders", sitePort), "application/json", strings.NewReader(`{"total":10}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/orders through Caddy: %d", resp.StatusCode)
	}
}

// page is one tab of a headless Chromium.
type page struct {
	t    *testing.T
	ctx  context.Context
	dirs []string // where screenshots go

	mu       sync.Mutex
	problems []string
}

// openBrowser starts Chromium with a fresh profile, with the clipboard
// allowed for origin, and collects what the page reports as wrong.
func openBrowser(t *testing.T, execPath, origin string) *page {
	t.Helper()
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 860),
		// Flags that work as root on a machine with no network.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: the browser ends before its profile
	// directory is removed.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	p := &page{t: t, ctx: ctx, dirs: []string{t.TempDir()}}
	if d := os.Getenv("UI_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p.dirs = append(p.dirs, d)
	}
	t.Logf("screenshots in %s", strings.Join(p.dirs, " and "))

	// Subscribe before the first page loads, so nothing is missed.
	messages := chromedp.Console(ctx)
	responses := chromedp.Events(ctx, network.ResponseReceived)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException(), m.Type == chromedp.ConsoleError && m.Source == "",
				m.Source == "security", strings.Contains(m.Text, "Content Security Policy"):
				p.problem(fmt.Sprintf("console %s (%s): %s %s", m.Type, m.Source, m.Text, m.URL))
			}
		}
	}()
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			u, status := ev.Response.URL, ev.Response.Status
			if status == http.StatusForbidden || (strings.Contains(u, "/webhooks/ui/") && status >= 400) {
				p.problem(fmt.Sprintf("%s answered %d", u, status))
			}
		}
	}()

	p.do() // starts the browser, bound to ctx rather than to one step's timeout
	p.do(
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for _, perm := range []string{"clipboard-read", "clipboard-write"} {
				_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
					Permission: &browser.PermissionDescriptor{Name: perm, AllowWithoutSanitization: true},
					Setting:    browser.PermissionSettingGranted,
					Origin:     origin,
				})
				if err != nil {
					return fmt.Errorf("granting %s: %w", perm, err)
				}
			}
			// The clipboard works only in a focused page; a headless tab
			// never has the focus unless it is emulated.
			_, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
			return err
		}),
	)
	return p
}

func (p *page) problem(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, s)
}

// checkProblems fails the test for every error the page reported.
func (p *page) checkProblems() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.problems {
		p.t.Errorf("page problem: %s", s)
	}
}

// stepTimeout bounds one step; a step that waits polls until then.
const stepTimeout = 20 * time.Second

// do runs actions, failing the test (with a screenshot) on an error.
func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if len(actions) == 0 {
		if err := chromedp.Do(p.ctx); err != nil {
			p.t.Fatalf("starting Chromium: %v", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

// evalJS evaluates a JavaScript expression (awaiting a promise) and
// decodes its value.
func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (p *page) waitFor(what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout-time.Second)))
	if err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

// clearField empties a text field as a person does: select all, then
// Backspace.
func (p *page) clearField(sel string) {
	p.t.Helper()
	p.do(chromedp.Focus(chromedp.CSS(sel)))
	evalJS[chromedp.Void](p, `document.activeElement.select()`)
	p.do(chromedp.KeyEvent(kb.Backspace))
	if v := p.value(sel); v != "" {
		p.fail("%s still holds %q", sel, v)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	return evalJS[string](p, `document.querySelector(`+jsString(sel)+`).textContent.trim()`)
}

func (p *page) value(sel string) string {
	p.t.Helper()
	return evalJS[string](p, `document.querySelector(`+jsString(sel)+`).value`)
}

// sendTest clicks a card's Send test and waits for a delivered outcome
// with its status code and duration.
func (p *page) sendTest(card string) {
	p.t.Helper()
	p.click(card + ` [data-action="test"]`)
	p.waitFor("the test outcome", `document.querySelector('`+card+` .test-result').dataset.success === 'true'`)
	if got := p.text(card + ` .test-result`); !strings.Contains(got, "HTTP 200") || !strings.Contains(got, " ms") {
		p.t.Errorf("test outcome %q, want the status code and the duration", got)
	}
}

// copySecret clicks Copy in the secret dialog and returns what the
// clipboard then holds (a sentinel is put there first, so that the value
// read is the button's doing).
func (p *page) copySecret() string {
	p.t.Helper()
	p.waitFor("the automatic copy", `document.getElementById('secret-copied').dataset.copied === 'true'`)
	evalJS[chromedp.Void](p, `navigator.clipboard.writeText('sentinel')`)
	p.click(`#secret-copy`)
	p.waitFor("the copied secret", `navigator.clipboard.readText().then(t => t !== 'sentinel')`)
	got := evalJS[string](p, `navigator.clipboard.readText()`)
	if shown := p.value(`#secret-value`); got != shown {
		p.t.Errorf("clipboard %q, dialog shows %q", got, shown)
	}
	return got
}

// checkLabels fails the test for any visible control without a name: an
// input, select or textarea without a label, or a button without text.
func (p *page) checkLabels(where string) {
	p.t.Helper()
	unnamed := evalJS[[]string](p, `[...document.querySelectorAll('input, select, textarea, button')]
		.filter(el => !el.closest('dialog:not([open])') && !el.closest('[hidden]'))
		.filter(el => !((el.labels && [...el.labels].some(l => l.textContent.trim())) || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
		.map(el => el.outerHTML.slice(0, 100))`)
	for _, el := range unnamed {
		p.t.Errorf("%s: control without a label: %s", where, el)
	}
}

// shot saves a screenshot of the viewport as name.png in each directory.
func (p *page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	// Wait for the dialogs' and toasts' transitions to settle.
	_, _ = chromedp.Run(ctx, chromedp.Poll[bool](`document.getAnimations().every(a => a.playState !== 'running')`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(2*time.Second)))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	for _, d := range p.dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			p.t.Errorf("screenshot %s: %v", name, err)
		}
	}
}

// fail saves a screenshot and the page's text, then fails the test.
func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(p.dirs[0], "failure.png"), png, 0o644)
	}
	p.mu.Lock()
	problems := strings.Join(p.problems, "\n")
	p.mu.Unlock()
	p.t.Fatalf(format+"\npage text:\n%s\npage problems:\n%s\n(screenshot failure.png in %s)", append(args, body, problems, p.dirs[0])...)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// hookReceiver is a webhook receiver that verifies every delivery's
// signature with the signer package, against the scheme and secret
// expected on its path, and answers a status set per path (200 unless
// told; 401 when the signature does not verify).
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	schemes  map[string]string
	secrets  map[string]string
	statuses map[string]int
	got      []received
}

// received is one request the receiver got.
type received struct {
	path, event, attempt, signature string
	body                            []byte
	verifyErr                       error
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{schemes: map[string]string{}, secrets: map[string]string{}, statuses: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		scheme, secret, status := h.schemes[r.URL.Path], h.secrets[r.URL.Path], h.statuses[r.URL.Path]
		h.mu.Unlock()
		err := errors.New("no secret expected on this path")
		if secret != "" {
			err = signer.Verify(scheme, r.Header, body, secret, time.Now())
		}
		sig := r.Header.Get("webhook-signature") + r.Header.Get("X-Webhook-Signature")
		h.mu.Lock()
		h.got = append(h.got, received{path: r.URL.Path, event: r.Header.Get("X-Webhook-Event"), attempt: r.Header.Get("X-Webhook-Attempt"),
			signature: sig, body: body, verifyErr: err})
		h.mu.Unlock()
		switch {
		case err != nil:
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
		case status != 0:
			http.Error(w, http.StatusText(status), status)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// expect sets the scheme and secret that deliveries to path must verify with.
func (h *hookReceiver) expect(path, scheme, secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.schemes[path], h.secrets[path] = scheme, secret
}

// answer sets the status answered on path to verified deliveries.
func (h *hookReceiver) answer(path string, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses[path] = status
}

// reset forgets what was received.
func (h *hookReceiver) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = nil
}

// waitFor polls until a received request matches.
func (h *hookReceiver) waitFor(t *testing.T, what string, match func(received) bool) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		h.mu.Lock()
		var seen []string
		for _, r := range h.got {
			if match(r) {
				h.mu.Unlock()
				return
			}
			seen = append(seen, fmt.Sprintf("%s %s attempt=%s verify=%v", r.path, r.event, r.attempt, r.verifyErr))
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("receiver: timed out waiting for %s; got:\n%s", what, strings.Join(seen, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
