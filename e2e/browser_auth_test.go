package e2e_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
)

// TestAuthenticatedTargetInBrowser: the editor's authentication and
// client certificate fields, as a person uses them. A subscription to a
// receiver that requires a client certificate and an OAuth2 token is
// created through the form (the API's error on a bad token URL shown
// beside it first), its test delivery gets through, the form shows its
// secrets only as set and keeps them across an edit, and removing its
// authentication removes it.
func TestAuthenticatedTargetInBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromium(t)
	serverCA, clientCA := testpki.NewCA(t, "receiver CA"), testpki.NewCA(t, "client CA")
	client := clientCA.Client(t, "caddy-webhooks", time.Now().Add(time.Hour))
	const clientSecret = "browser-client-secret-c0ffee" //nolint:gosec // G101: a test value

	var issued int
	var mu sync.Mutex
	var got []string // the Authorization of each delivery
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if id != "caddy" || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		mu.Lock()
		issued++
		fmt.Fprintf(w, `{"access_token":"browser-token-%d","token_type":"Bearer","expires_in":3600,"scope":%q}`, issued, r.FormValue("scope"))
		mu.Unlock()
	}))
	t.Cleanup(idp.Close)
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer browser-token-") {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	rcv.TLS = serverCA.MTLSConfig(t, clientCA)
	rcv.Config.ErrorLog = log.New(io.Discard, "", 0)
	rcv.StartTLS()
	t.Cleanup(rcv.Close)
	lastAuth := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return ""
		}
		return got[len(got)-1]
	}

	hooks := newHookReceiver(t) // the config subscription's, unused here
	up := testbed.OrdersApp(t)
	c := testbed.StartCaddy(t, "", uiCaddyfile(testbed.FreePort(t), up.Listener.Addr().String(), testbed.WriteOrderRules(t), hooks.srv.URL))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	origin := "http://" + c.AdminAddr
	p := openBrowser(t, chrome, origin)
	p.do(chromedp.EmulateViewport(1280, 960), chromedp.Navigate(origin+"/webhooks/ui/"))
	p.waitFor("the list", `!!document.querySelector('article.sub[data-id="sub_workflow"]')`)

	setValue := func(sel, v string) { // PEM pasted, rather than typed key by key
		p.do(chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector(` + jsString(sel) + `); el.value = ` + jsString(v) +
			`; el.dispatchEvent(new Event('input', {bubbles: true})); })()`))
	}
	// saveEdit submits the form and waits for the list to show the saved
	// subscription: a click on the card before it is drawn again would
	// land on the old one, about to go.
	saveEdit := func(card string) {
		p.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('` + card + `').dataset.drawn = 'before'`))
		p.click(`#editor-submit`)
		p.waitFor("the form closed and the card drawn again", `!document.getElementById('editor').open && !!document.querySelector('`+card+`') && !document.querySelector('`+card+`').dataset.drawn`)
	}
	setType := func(v string) {
		p.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('f-auth_type'); s.value = ` + jsString(v) +
			`; s.dispatchEvent(new Event('change')); })()`))
	}

	// Create, with a token URL the API refuses: its error beside it.
	p.click(`#new`)
	p.waitFor("the form", `document.getElementById('editor').open`)
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-url`), rcv.URL+"/secured"),
		chromedp.SendKeys(chromedp.CSS(`#f-app_name`), "Secured receiver"),
		chromedp.Click(chromedp.CSS(`input[name="event"][value="order.created"]`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-credentials').open = true`),
	)
	setType("oauth2_client_credentials")
	p.waitFor("the OAuth2 fields", `!document.querySelector('[data-auth="oauth2_client_credentials"]').hidden && document.querySelector('[data-auth="basic"]').hidden`)
	p.do(
		chromedp.SendKeys(chromedp.CSS(`#f-auth_token_url`), "login.example/token"),
		chromedp.SendKeys(chromedp.CSS(`#f-auth_client_id`), "caddy"),
		chromedp.SendKeys(chromedp.CSS(`#f-auth_client_secret`), clientSecret),
		chromedp.SendKeys(chromedp.CSS(`#f-auth_scopes`), "hooks:write"),
	)
	setValue(`#f-tls_client_certificate`, client.CertPEM)
	setValue(`#f-tls_client_key`, client.KeyPEM)
	setValue(`#f-tls_ca`, serverCA.PEM)
	p.checkLabels("the authentication fields")
	p.click(`#editor-submit`)
	p.waitFor("the API's error beside the token URL", `document.getElementById('f-auth_token_url-error').textContent.includes('absolute')`)
	if evalJS[string](p, `document.getElementById('f-auth_token_url').getAttribute('aria-invalid')`) != "true" {
		t.Errorf("the token URL is not marked invalid")
	}
	p.shot("ui-form-auth-error")
	p.clearField(`#f-auth_token_url`)
	p.do(chromedp.SendKeys(chromedp.CSS(`#f-auth_token_url`), idp.URL))
	p.click(`#editor-submit`)
	p.waitFor("the form closed, the secret shown", `!document.getElementById('editor').open && document.getElementById('secret').open`)
	p.click(`#secret [data-close]`)
	p.waitFor("the secret closed", `!document.getElementById('secret').open`)

	var id string
	for _, s := range a.ListSubs("") {
		if s["app_name"] == "Secured receiver" {
			id = testbed.Str(s["id"])
			auth, tls := s["auth"].(map[string]any), s["tls"].(map[string]any)
			if auth["type"] != "oauth2_client_credentials" || auth["token_url"] != idp.URL || auth["client_secret_set"] != true ||
				strings.Join(testbed.Strs(auth["scopes"]), " ") != "hooks:write" || tls["client_key_set"] != true {
				t.Errorf("saved from the form: auth %v, tls %v", auth, tls)
			}
		}
	}
	if id == "" {
		t.Fatal("the form created no subscription")
	}
	card := `article.sub[data-id="` + id + `"]`
	p.waitFor("the card says how it authenticates", `!!document.querySelector('`+card+`') && document.querySelector('`+card+` .meta').textContent.includes('auth oauth2_client_credentials') && document.querySelector('`+card+` .meta').textContent.includes('client certificate')`)

	// Test: the receiver takes the client certificate and the token.
	p.sendTest(card)
	if auth := lastAuth(); auth != "Bearer browser-token-1" {
		t.Errorf("the test delivery carried %q", auth)
	}

	// Edit: the secrets shown as set, not as themselves; a change of
	// scopes keeps them.
	p.click(card + ` [data-action="edit"]`)
	p.waitFor("the edit form with the OAuth2 fields", `document.getElementById('editor').open && document.getElementById('f-auth_type').value === 'oauth2_client_credentials' && !document.querySelector('[data-auth="oauth2_client_credentials"]').hidden`)
	if v := p.value(`#f-auth_token_url`); v != idp.URL {
		t.Errorf("the token URL shows %q", v)
	}
	for _, sel := range []string{`#f-auth_client_secret`, `#f-tls_client_key`} {
		if v := p.value(sel); v != "" {
			t.Errorf("%s shows %q", sel, v)
		}
		if hint := p.text(sel + `-hint`); !strings.Contains(hint, "Set.") {
			t.Errorf("%s hint %q, want it to say the secret is set", sel, hint)
		}
	}
	if v := p.value(`#f-tls_client_certificate`); v != strings.TrimSpace(client.CertPEM) {
		t.Errorf("the client certificate shows %q", v)
	}
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('f-auth_type').scrollIntoView()`))
	p.shot("ui-form-auth-edit")
	p.clearField(`#f-auth_scopes`)
	p.do(chromedp.SendKeys(chromedp.CSS(`#f-auth_scopes`), "hooks:write orders:read"))
	saveEdit(card)
	if s := a.Get(id); strings.Join(testbed.Strs(s["auth"].(map[string]any)["scopes"]), " ") != "hooks:write orders:read" ||
		s["auth"].(map[string]any)["client_secret_set"] != true || s["tls"].(map[string]any)["client_key_set"] != true {
		t.Errorf("after the edit of the scopes: %v", s)
	}
	p.sendTest(card) // a new token (the auth changed), with the kept secret and key
	if auth := lastAuth(); auth != "Bearer browser-token-2" {
		t.Errorf("after the edit the test delivery carried %q", auth)
	}

	// Remove the authentication: the receiver refuses the test.
	p.click(card + ` [data-action="edit"]`)
	p.waitFor("the edit form", `document.getElementById('editor').open`)
	setType("")
	p.waitFor("no auth fields", `[...document.querySelectorAll('.auth-fields')].every(el => el.hidden)`)
	saveEdit(card)
	if s := a.Get(id); s["auth"] != nil || s["tls"] == nil {
		t.Errorf("after removing the authentication: auth %v, tls %v", s["auth"], s["tls"])
	}
	p.click(card + ` [data-action="test"]`)
	p.waitFor("the refused test", `document.querySelector('`+card+` .test-result').dataset.success === 'false' && document.querySelector('`+card+` .test-result').textContent.includes('401')`)

	page := string(a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions", nil), http.StatusOK).Body)
	for _, secret := range []string{clientSecret, strings.Split(client.KeyPEM, "\n")[1]} {
		if strings.Contains(page, secret) || strings.Contains(c.Logs(), secret) {
			t.Errorf("%q is shown by the API or logged", secret)
		}
	}
	p.checkProblems()
}
