// Package e2e holds the end-to-end tests that need more than the plugin
// does: the management page driven in headless Chromium (browser_test.go,
// through chromedp). It is a module of its own, so that the plugin's
// go.mod does not require chromedp and users building Caddy with the
// plugin (xcaddy --with) do not download it; it runs the repository's
// code through a replace directive. ./test.sh runs its tests.
package e2e
