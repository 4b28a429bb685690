package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// uiFiles is the management page (docs/management-page.md, GET /webhooks/ui/): plain
// HTML, CSS and JavaScript modules, embedded so that the binary needs
// nothing else and the page loads nothing from the internet.
//
//go:embed ui
var uiFiles embed.FS

// uiPrefix is where the page lives on the admin endpoint. The page calls
// the API with URLs relative to it ("../subscriptions"), so every call is
// same-origin.
const uiPrefix = "/webhooks/ui/"

// uiContentTypes are the types of the page's files, by extension. They are
// listed rather than taken from mime.TypeByExtension, which reads the
// system's mime.types: browsers refuse a module script served with a
// non-JavaScript type, so the answer must not depend on the machine.
var uiContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// uiPolicy is the Content-Security-Policy of the page: its own scripts,
// styles and API only; no framing, so that another site cannot overlay
// the page's buttons (clickjacking); no form posts anywhere (the forms
// are sent by script).
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// uiAsset is one embedded file, ready to serve.
type uiAsset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// uiAssets indexes the embedded files by their path under uiPrefix. Only
// regular files are listed, so a directory (or any name that is not a
// file) is a 404, never a listing.
var uiAssets = sync.OnceValue(func() map[string]*uiAsset {
	assets := map[string]*uiAsset{}
	err := fs.WalkDir(uiFiles, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := uiFiles.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := uiContentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("embedded UI file %s has no content type: add its extension to uiContentTypes", p)
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "ui/")
		assets[name] = &uiAsset{name: name, body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // the embedded files are fixed at build time; TestUIAssets covers them
	}
	return assets
})

// serveUI serves the page's files under /webhooks/ui/: index.html for the
// directory itself, the embedded file of that name otherwise, 404 for
// anything else.
//
// Caching: every answer has Cache-Control: no-cache and a strong ETag (a
// hash of the content). The browser keeps the files but asks each time
// whether they changed, and gets a 304 without a body when they did not;
// after an upgrade of Caddy the new page is used at once, and a page can
// never mix old and new modules.
func serveUI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, uiPrefix)
	if name == "" {
		name = "index.html"
	}
	a := uiAssets()[name]
	if a == nil {
		writeError(w, http.StatusNotFound, "no such file of the management page: "+r.URL.Path, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(a.contentType, "text/html") {
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Frame-Options", "DENY") // frame-ancestors for older browsers
		// Same-origin requests must carry a Referer: Caddy's admin
		// endpoint refuses browser requests that have neither Origin nor
		// Referer (the page's GETs have no Origin). Other origins get none.
		h.Set("Referrer-Policy", "same-origin")
	}
	// ServeContent answers If-None-Match (304), HEAD and ranges. The zero
	// time leaves out Last-Modified: embedded files have no dates.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

// redirectUI sends /webhooks/ui to /webhooks/ui/, so that the page's
// relative URLs resolve under it.
func redirectUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, uiPrefix, http.StatusMovedPermanently)
}
