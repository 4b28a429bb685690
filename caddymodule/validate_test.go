package caddymodule_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestValidateRuleErrors runs `caddy validate` on a config whose rule file
// has one error of each class: it must fail and say file:line: what.
func TestValidateRuleErrors(t *testing.T) {
	cases := []struct {
		name, rules string
		line        int
		what        string
	}{
		{"yaml syntax", "events:\n  - name: a.b\n    match: { path: /a }\n    when: x: y\n", 4, "mapping values"},
		{"unknown key", "events:\n  - name: a.b\n    match: { method: POST, path: /a }\n    dta: {}\n", 4, "dta"},
		{"bad status", "events:\n  - name: a.b\n    match:\n      method: POST\n      path: /a\n      status: 2xz\n", 6, "2xz"},
		{"bad path pattern", "events:\n  - name: a.b\n    match:\n      path: /a/{id\n", 4, "path"},
		{"bad gjson path", "events:\n  - name: a.b\n    match: { path: /a }\n    data:\n      x: response.body.items.#(sku==\"a\"\n", 5, "gjson"},
		{"bad CEL", "events:\n  - name: a.b\n    match: { path: /a }\n    when: response.body.status ==\n", 4, "when"},
		{"unknown source", "events:\n  - name: a.b\n    match: { path: /a }\n    data:\n      x: reponse.body.id\n", 5, "source"},
		{"unknown method", "events:\n  - name: a.b\n    match:\n      method: POSTT\n      path: /a\n", 4, "bad method"},
		{"previous without state", "events:\n  - name: a.b\n    match: { path: /a }\n    when: previous.status != response.body.status\n", 4, "has no state"},
		{"unquoted param", "events:\n  - name: a.b\n    match: { method: PUT, path: /a/{id} }\n", 3, "quote a value"},
		{"costly when", "events:\n  - name: a.b\n    match: { path: /a }\n    when: request.body.items.all(x, request.body.items.all(y, true))\n", 4, "too costly"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rulePath := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			writeFile(t, rulePath, tc.rules)
			out, ok := testbed.Validate(t, "{\n\tadmin off\n\tauto_https off\n\twebhooks {\n\t\tstorage "+filepath.Join(dir, "wh")+"\n\t}\n}\nhttp://127.0.0.1:1 {\n\twebhooks {\n\t\trules "+rulePath+"\n\t}\n\treverse_proxy 127.0.0.1:2\n}\n")
			if ok {
				t.Fatalf("caddy validate accepted the broken rules:\n%s", out)
			}
			prefix := rulePath + ":" + strconv.Itoa(tc.line) + ":"
			if !strings.Contains(out, prefix) {
				t.Errorf("output lacks %q:\n%s", prefix, out)
			}
			if !strings.Contains(strings.ToLower(out), strings.ToLower(tc.what)) {
				t.Errorf("output does not mention %q:\n%s", tc.what, out)
			}
		})
	}
}

// TestValidateWhileStoreLocked validates a config whose storage a running
// server holds: the store is opened at start, not at provisioning, so
// validation does not fail on Badger's lock.
func TestValidateWhileStoreLocked(t *testing.T) {
	s := startStack(t, testRules, "")
	cfg := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s.config, "{ADMIN}", "off"), "{DIR}", s.caddy.Dir), "{LOG}", filepath.Join(t.TempDir(), "v.log"))
	if out, ok := testbed.Validate(t, cfg); !ok {
		t.Fatalf("validate failed while the store is in use:\n%s", out)
	}
}
