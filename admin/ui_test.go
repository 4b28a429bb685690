package admin

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// serve sends one request to the admin router (no Caddy needed: the
// management page's routes do not use the webhooks app).
func serve(method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	router().ServeHTTP(rec, req)
	return rec
}

// TestUIAssets serves every embedded file with its content type and the
// caching headers: Cache-Control no-cache and a strong ETag, so that the
// browser revalidates each time and gets a 304 when nothing changed.
func TestUIAssets(t *testing.T) {
	want := map[string]string{
		"index.html":    "text/html; charset=utf-8",
		"app.js":        "text/javascript; charset=utf-8",
		"api.js":        "text/javascript; charset=utf-8",
		"dom.js":        "text/javascript; charset=utf-8",
		"editor.js":     "text/javascript; charset=utf-8",
		"auth.js":       "text/javascript; charset=utf-8",
		"deliveries.js": "text/javascript; charset=utf-8",
		"store.js":      "text/javascript; charset=utf-8",
		"recent.js":     "text/javascript; charset=utf-8",
		"learn.js":      "text/javascript; charset=utf-8",
		"ui.css":        "text/css; charset=utf-8",
	}
	if len(uiAssets()) != len(want) {
		t.Errorf("embedded files %v, want %d", keys(uiAssets()), len(want))
	}
	etags := map[string]string{}
	for name, ct := range want {
		rec := serve(http.MethodGet, "/webhooks/ui/"+name, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", name, rec.Code, rec.Body)
		}
		h := rec.Header()
		if h.Get("Content-Type") != ct {
			t.Errorf("%s: Content-Type %q, want %q", name, h.Get("Content-Type"), ct)
		}
		if h.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", name, h.Get("Cache-Control"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", name)
		}
		if h.Get("Last-Modified") != "" {
			t.Errorf("%s: Last-Modified %q: embedded files have no date", name, h.Get("Last-Modified"))
		}
		etag := h.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
			t.Errorf("%s: ETag %q, want a quoted hash", name, etag)
		}
		if other, dup := etags[etag]; dup {
			t.Errorf("%s and %s have the same ETag", name, other)
		}
		etags[etag] = name
		body, _ := uiFiles.ReadFile("ui/" + name)
		if rec.Body.String() != string(body) {
			t.Errorf("%s: body differs from the embedded file", name)
		}

		// The browser's revalidation: 304, no body, the same ETag.
		rec = serve(http.MethodGet, "/webhooks/ui/"+name, http.Header{"If-None-Match": {etag}})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
			t.Errorf("%s with If-None-Match: %d, %d bytes, ETag %q; want 304, none, %s", name, rec.Code, rec.Body.Len(), rec.Header().Get("ETag"), etag)
		}
		rec = serve(http.MethodGet, "/webhooks/ui/"+name, http.Header{"If-None-Match": {`"stale"`}})
		if rec.Code != http.StatusOK {
			t.Errorf("%s with a stale If-None-Match: %d, want 200", name, rec.Code)
		}

		// HEAD: the headers without the body.
		rec = serve(http.MethodHead, "/webhooks/ui/"+name, nil)
		if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != ct {
			t.Errorf("HEAD %s: %d, %d bytes, %q", name, rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
		}
	}
}

// TestUIIndex serves index.html at /webhooks/ui/ with the page's security
// headers, and redirects /webhooks/ui there.
func TestUIIndex(t *testing.T) {
	rec := serve(http.MethodGet, "/webhooks/ui/", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<script type="module" src="app.js">`) {
		t.Fatalf("GET /webhooks/ui/: %d %.200s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-cache" || h.Get("ETag") != uiAssets()["index.html"].etag {
		t.Errorf("index headers: %v", h)
	}
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, d)
		}
	}
	if h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options %q", h.Get("X-Frame-Options"))
	}
	// The page's GETs must carry a Referer for Caddy's origin check.
	if rp := h.Get("Referrer-Policy"); rp != "same-origin" {
		t.Errorf("Referrer-Policy %q, want same-origin", rp)
	}

	for _, target := range []string{"/webhooks/ui", "/webhooks/ui?x=1"} {
		rec = serve(http.MethodGet, target, nil)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/webhooks/ui/" {
			t.Errorf("GET %s: %d Location %q, want 301 to /webhooks/ui/", target, rec.Code, rec.Header().Get("Location"))
		}
	}
}

// TestUINotFound answers 404, in the API's JSON error format, for every
// name that is not an embedded file, directories included: there is no
// listing.
func TestUINotFound(t *testing.T) {
	for _, target := range []string{
		"/webhooks/ui/missing.js",
		"/webhooks/ui/ui/",         // the embed directory itself
		"/webhooks/ui/ui/app.js",   // the embed path of a file
		"/webhooks/ui/app.js/",     // a file as a directory
		"/webhooks/ui/APP.JS",      // names are exact
		"/webhooks/ui/sub/",        // any directory
		"/webhooks/ui/index.htm",   // near miss
		"/webhooks/ui/.hidden",     // dot files
		"/webhooks/ui/%2e%2e%2fui", // an escaped ../ stays one name
	} {
		rec := serve(http.MethodGet, target, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, rec.Code)
			continue
		}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: 404 not in the API's format: %s", target, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "<a href") || strings.Contains(rec.Body.String(), "app.js") && !strings.Contains(target, "app.js") {
			t.Errorf("GET %s looks like a listing: %s", target, rec.Body)
		}
	}
}

// TestUIMethods refuses writes on the page's paths with 405 and Allow.
func TestUIMethods(t *testing.T) {
	for _, target := range []string{"/webhooks/ui/", "/webhooks/ui/app.js", "/webhooks/ui"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := serve(m, target, nil)
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d Allow %q, want 405 GET, HEAD", m, target, rec.Code, rec.Header().Get("Allow"))
			}
		}
	}
}

// TestUISelfContained checks that the page loads only its own files: every
// src, href, import and url() is relative and names an embedded file (or
// is an inline data: URL), so nothing comes from the internet.
func TestUISelfContained(t *testing.T) {
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"|from '([^']*)'|import\('([^']*)'\)|url\(([^)]*)\)|@import\s+["']([^"']*)`)
	assets := uiAssets()
	checked := 0
	err := fs.WalkDir(uiFiles, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, _ := uiFiles.ReadFile(p)
		for _, m := range refs.FindAllStringSubmatch(string(body), -1) {
			ref := strings.Join(m[1:], "")
			switch {
			case strings.HasPrefix(ref, "data:"), strings.HasPrefix(ref, "#"):
				continue
			case strings.Contains(ref, "//") || strings.HasPrefix(ref, "/"):
				t.Errorf("%s refers to %q: not a file of the page", p, ref)
				continue
			}
			name := path.Clean(path.Join(path.Dir(strings.TrimPrefix(p, "ui/")), ref))
			if assets[name] == nil {
				t.Errorf("%s refers to %q, which is not embedded", p, ref)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 6 {
		t.Errorf("only %d references found: the pattern no longer matches the page", checked)
	}
	// The stylesheet must be fetched in CORS mode: Caddy's admin endpoint
	// refuses the no-cors request of a plain <link rel=stylesheet>.
	index, _ := uiFiles.ReadFile("ui/index.html")
	if !strings.Contains(string(index), `<link rel="stylesheet" href="ui.css" crossorigin>`) {
		t.Error(`index.html must load ui.css with the crossorigin attribute`)
	}
	if !strings.Contains(string(index), `<link rel="icon" href="data:`) {
		t.Error(`index.html must have an inline icon, or the browser asks for /favicon.ico in no-cors mode`)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
