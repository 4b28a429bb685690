package admin_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// browserRequest sends what a browser sends for the page: its Sec-Fetch
// headers (browsers send them to localhost and 127.0.0.1), and the Origin
// and Referer given ("" for none).
func browserRequest(t *testing.T, method, url, host, mode, origin, referer string) (int, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(fmt.Sprintf(`{"url": %q, "events": ["order.created"]}`, receiver))
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Sec-Fetch-Mode", mode)
	switch mode {
	case "navigate":
		req.Header.Set("Sec-Fetch-Site", "none")
		req.Header.Set("Sec-Fetch-Dest", "document")
	default:
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Sec-Fetch-Dest", "empty")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminOriginChecks pins down what Caddy's admin endpoint does with the
// page's requests, which docs/management-page.md ("Opening it") explains:
//
//   - With Caddy's defaults, the page's own requests pass: its module
//     scripts, its stylesheet (loaded with crossorigin) and its fetch()
//     calls carry a same-origin Referer or Origin. Other sites, no-cors
//     requests and other Host names are refused.
//   - But the first request, the navigation typed in the address bar,
//     carries Sec-Fetch-Mode and neither Origin nor Referer, which Caddy
//     refuses (403) unless the admin origins list allows the empty origin:
//     the documented setting. With it, other sites are still refused.
func TestAdminOriginChecks(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	base := "http://" + e.AdminAddr
	page := base + "/webhooks/ui/"
	_, port, _ := net.SplitHostPort(e.AdminAddr)

	// Caddy's defaults.
	if status, body := browserRequest(t, http.MethodGet, page, "", "navigate", "", ""); status != http.StatusForbidden {
		t.Errorf("a navigation with the default admin settings: %d %.100s; Caddy no longer refuses it: update docs/management-page.md", status, body)
	}
	for _, path := range []string{"/webhooks/ui/app.js", "/webhooks/ui/ui.css", "/webhooks/subscriptions", "/webhooks/events"} {
		if status, body := browserRequest(t, http.MethodGet, base+path, "", "cors", "", page); status != http.StatusOK {
			t.Errorf("the page's GET %s with a same-origin Referer: %d %.200s", path, status, body)
		}
	}
	if status, body := browserRequest(t, http.MethodPost, base+"/webhooks/subscriptions", "", "cors", base, page); status != http.StatusCreated {
		t.Errorf("the page's POST with its Origin: %d %.200s", status, body)
	}
	refused := func(what string, want int, method, url, host, mode, origin, referer string) {
		t.Helper()
		if status, body := browserRequest(t, method, url, host, mode, origin, referer); status != want {
			t.Errorf("%s: %d %.200s, want %d", what, status, body, want)
		}
	}
	refused("a stylesheet without crossorigin (no-cors)", http.StatusBadRequest, http.MethodGet, base+"/webhooks/ui/ui.css", "", "no-cors", "", page)
	refused("another site's fetch", http.StatusForbidden, http.MethodGet, base+"/webhooks/subscriptions", "", "cors", "http://evil.example", "http://evil.example/")
	refused("another site's POST", http.StatusForbidden, http.MethodPost, base+"/webhooks/subscriptions", "", "cors", "http://evil.example", "")
	refused("another Host (DNS rebinding)", http.StatusForbidden, http.MethodGet, page, "evil.example:"+port, "navigate", "", "")

	// The documented setting: the listen address under each name a browser
	// may use, and "" for the navigation that has no Origin nor Referer.
	withOrigins := strings.Replace(e.config(""), "admin {ADMIN}\n", fmt.Sprintf(`admin {ADMIN} {
		origins localhost:%[1]s 127.0.0.1:%[1]s [::1]:%[1]s ""
	}
`, port), 1)
	if withOrigins == e.config("") {
		t.Fatal("testbed.Global no longer has an `admin {ADMIN}` line to extend")
	}
	e.reload(withOrigins)
	for _, host := range []string{"", "localhost:" + port} { // "": 127.0.0.1:port; localhost: through an SSH tunnel
		status, body := 0, ""
		testbed.Eventually(t, 15*time.Second, "the reloaded admin endpoint answers", func() bool {
			status, body = browserRequest(t, http.MethodGet, page, host, "navigate", "", "")
			return status != http.StatusForbidden || !strings.Contains(body, "origin ''")
		})
		if status != http.StatusOK || !strings.Contains(body, "<title>Webhooks") {
			t.Errorf("a navigation (Host %q) with the documented origins: %d %.200s", host, status, body)
		}
	}
	if status, body := browserRequest(t, http.MethodGet, base+"/webhooks/ui/app.js", "", "cors", "", page); status != http.StatusOK {
		t.Errorf("the page's GET with the documented origins: %d %.200s", status, body)
	}
	refused("another site's fetch, with the documented origins", http.StatusForbidden, http.MethodGet, base+"/webhooks/subscriptions", "", "cors", "http://evil.example", "")
	refused("another site's POST, with the documented origins", http.StatusForbidden, http.MethodPost, base+"/webhooks/subscriptions", "", "cors", "http://evil.example", "")
	refused("an opaque origin's POST, with the documented origins", http.StatusBadRequest, http.MethodPost, base+"/webhooks/subscriptions", "", "cors", "null", "")
	refused("another Host, with the documented origins", http.StatusForbidden, http.MethodGet, page, "evil.example:"+port, "navigate", "", "")
}
