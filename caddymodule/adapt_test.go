package caddymodule_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// TestCaddyfileAdapt checks Caddyfile → JSON for each golden file in
// testdata/caddyfile_adapt: a Caddyfile, a line of dashes, the JSON.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.SplitN(string(data), "----------", 2)
			if len(parts) != 2 {
				t.Fatalf("%s: no ---------- separator", f)
			}
			if !caddytest.CompareAdapt(t, f, strings.TrimSpace(parts[0])+"\n", "caddyfile", strings.TrimSpace(parts[1])) {
				t.Fail()
			}
		})
	}
}

// TestCaddyfileErrors checks that bad Caddyfile input is refused with a
// message naming the problem.
func TestCaddyfileErrors(t *testing.T) {
	cases := map[string]string{
		"bad durability":     "{\n\twebhooks {\n\t\tdurability maybe\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"unknown option":     "{\n\twebhooks {\n\t\tstorag /x\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"bad retry":          "{\n\twebhooks {\n\t\tretry 1m soon\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"bad workers":        "{\n\twebhooks {\n\t\tworkers -1\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"bad max_body":       ":80 {\n\twebhooks {\n\t\tmax_body lots\n\t}\n}\n",
		"unknown subdir":     ":80 {\n\twebhooks {\n\t\trulez a.yaml\n\t}\n}\n",
		"unknown event key":  ":80 {\n\twebhooks {\n\t\tevent a.b {\n\t\t\tmatсh {\n\t\t\t}\n\t\t}\n\t}\n}\n",
		"subscription key":   "{\n\twebhooks {\n\t\tsubscription a {\n\t\t\turi https://x\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"subscription twice": "{\n\twebhooks {\n\t\tsubscription a {\n\t\t}\n\t\tsubscription a {\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	}
	want := map[string]string{
		"bad durability":     "durability",
		"unknown option":     "storag",
		"bad retry":          "retry",
		"bad workers":        "workers",
		"bad max_body":       "max_body",
		"unknown subdir":     "rulez",
		"unknown event key":  "unrecognized event key",
		"subscription key":   "unrecognized subscription option",
		"subscription twice": "declared twice",
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := caddyconfigAdapt(cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), want[name]) {
				t.Errorf("error %q does not mention %q", err, want[name])
			}
		})
	}
}
