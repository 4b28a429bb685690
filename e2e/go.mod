// The end-to-end tests (see doc.go): a module of its own, so that their
// dependencies (chromedp) stay out of the plugin's go.mod.
module github.com/caddy-webhooks/caddy-webhooks/e2e

go 1.26.0

require (
	github.com/caddy-webhooks/caddy-webhooks v0.0.0
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect

replace github.com/caddy-webhooks/caddy-webhooks => ../
