package caddymodule_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// TestCaddyfileAdapt checks Caddyfile → JSON for each golden file in
// testdata/caddyfile_adapt: a Caddyfile, a line of dashes, the JSON.
func TestCaddyfileAdapt(t *testing.T) {
	testbed.AdaptGolden(t, "testdata/caddyfile_adapt/*.caddyfiletest")
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
		"max_body too large": ":80 {\n\twebhooks {\n\t\tmax_body 9EiB\n\t}\n}\n",
		"unknown subdir":     ":80 {\n\twebhooks {\n\t\trulez a.yaml\n\t}\n}\n",
		"unknown event key":  ":80 {\n\twebhooks {\n\t\tevent a.b {\n\t\t\tmatсh {\n\t\t\t}\n\t\t}\n\t}\n}\n",
		"subscription key":   "{\n\twebhooks {\n\t\tsubscription a {\n\t\t\turi https://x\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"subscription twice": "{\n\twebhooks {\n\t\tsubscription a {\n\t\t}\n\t\tsubscription a {\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"option twice":       "{\n\twebhooks {\n\t\tworkers 4\n\t\tworkers 8\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"bad timeout":        "{\n\twebhooks {\n\t\ttimeout soon\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"proxy two args":     "{\n\twebhooks {\n\t\tproxy http://a:1 http://b:2\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"tracing maybe":      "{\n\twebhooks {\n\t\ttracing maybe\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"tracing two args":   "{\n\twebhooks {\n\t\ttracing on off\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"storage block bad":  "{\n\twebhooks {\n\t\tstorage badger {\n\t\t\tdirr /x\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"storage no backend": "{\n\twebhooks {\n\t\tstorage nope {\n\t\t\tdir /x\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
		"prefetch key":       ":80 {\n\twebhooks {\n\t\tevent a.b {\n\t\t\tmatch {\n\t\t\t\tpath /o/{id}\n\t\t\t}\n\t\t\tstate {\n\t\t\t\tkey o:{path.id}\n\t\t\t\tprefetch GET /o/{path.id} {\n\t\t\t\t\tpick data\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n",
		"select twice":       ":80 {\n\twebhooks {\n\t\tevent a.b {\n\t\t\tmatch {\n\t\t\t\tpath /o/{id}\n\t\t\t}\n\t\t\tstate {\n\t\t\t\tkey o:{path.id}\n\t\t\t\tprefetch GET /o/{path.id} {\n\t\t\t\t\tselect data\n\t\t\t\t\tselect result\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n",
		"select no path":     ":80 {\n\twebhooks {\n\t\tevent a.b {\n\t\t\tmatch {\n\t\t\t\tpath /o/{id}\n\t\t\t}\n\t\t\tstate {\n\t\t\t\tkey o:{path.id}\n\t\t\t\tprefetch GET /o/{path.id} {\n\t\t\t\t\tselect\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n",
	}
	want := map[string]string{
		"bad durability":     "durability",
		"unknown option":     "storag",
		"bad retry":          "retry",
		"bad workers":        "workers",
		"bad max_body":       "max_body",
		"max_body too large": "max_body",
		"unknown subdir":     "rulez",
		"unknown event key":  "unrecognized event key",
		"subscription key":   "unrecognized subscription option",
		"subscription twice": "declared twice",
		"option twice":       "workers given twice",
		"bad timeout":        "timeout:",
		"proxy two args":     "wrong argument count",
		"tracing maybe":      `tracing: "maybe" is neither on nor off`,
		"tracing two args":   "wrong argument count",
		"storage block bad":  `unknown option "dirr"`,
		"storage no backend": "no storage backend",
		"prefetch key":       `unrecognized state prefetch key "pick"`,
		"select twice":       "select given twice",
		"select no path":     "wrong argument count",
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

// TestCaddyfileRuleFileAsMatcher checks the trap of `webhooks /etc/rules.yaml`:
// Caddy reads a first argument starting with / as a path matcher, so a rule
// file given that way would silently be no rule file at all. The error says
// so and how to write it; real path matchers are still accepted.
func TestCaddyfileRuleFileAsMatcher(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "webhook-rules") // an existing file without extension
	if err := os.WriteFile(plain, []byte("events: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	orders, err := filepath.Abs("testdata/rules/orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{
		"yaml":           "/etc/rules.yaml",
		"yml":            "/etc/caddy/rules.YML",
		"json":           "/srv/rules.json",
		"existing file":  plain,
		"with a block":   "/etc/rules.yaml {\n\t\trules " + orders + "\n\t}",
		"with more args": "/etc/rules.yaml " + orders,
	}
	for name, args := range refused {
		t.Run(name, func(t *testing.T) {
			_, _, err := caddyconfigAdapt(":80 {\n\twebhooks " + args + "\n\treverse_proxy localhost:9000\n}\n")
			if err == nil {
				t.Fatal("accepted a rule file in the matcher's place")
			}
			tok := strings.Fields(args)[0]
			for _, want := range []string{
				`"` + tok + `" is read as a path matcher, not a rule file`,
				"write `webhooks * " + tok + "` or `rules " + tok + "` inside the webhooks block",
				"at Caddyfile:2",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	accepted := map[string]string{
		"path matcher":      "/api/* {\n\t\trules " + orders + "\n\t}",
		"catch-all":         "* " + orders,
		"rules in block":    "{\n\t\trules " + orders + "\n\t}",
		"named path to yml": "@feed {\n\t\trules " + orders + "\n\t}",
	}
	for name, args := range accepted {
		t.Run(name, func(t *testing.T) {
			cfg := ":80 {\n\t@feed path /feed.yaml\n\twebhooks " + args + "\n\treverse_proxy localhost:9000\n}\n"
			out, _, err := caddyconfigAdapt(cfg)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !strings.Contains(string(out), `"rules":["`+orders+`"]`) {
				t.Errorf("the rule file is not in the handler: %s", out)
			}
		})
	}
}

// TestCaddyfileRulesDigest checks the digests of rule files in the adapted
// JSON: they follow the file's content, so a reload after an edit is not
// skipped as unchanged, and names with placeholders are read like the
// handler reads them.
func TestCaddyfileRulesDigest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	t.Setenv("WEBHOOKS_TEST_RULES_DIR", dir)
	adapt := func(content string) map[string]string {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, err := caddyconfigAdapt(":80 {\n\twebhooks {\n\t\trules " + path + " {env.WEBHOOKS_TEST_RULES_DIR}/rules.yaml\n\t}\n}\n")
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Apps struct {
				HTTP struct {
					Servers map[string]struct {
						Routes []struct {
							Handle []struct {
								RulesSHA256 map[string]string `json:"rules_sha256"`
							} `json:"handle"`
						} `json:"routes"`
					} `json:"servers"`
				} `json:"http"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		return cfg.Apps.HTTP.Servers["srv0"].Routes[0].Handle[0].RulesSHA256
	}
	const v1 = "events:\n  - name: a.b\n    match: { path: /a }\n"
	first := adapt(v1)
	sum := sha256.Sum256([]byte(v1))
	want := map[string]string{path: hex.EncodeToString(sum[:]), "{env.WEBHOOKS_TEST_RULES_DIR}/rules.yaml": hex.EncodeToString(sum[:])}
	if !maps.Equal(first, want) {
		t.Fatalf("rules_sha256 = %v, want %v", first, want)
	}
	if again := adapt(v1); !maps.Equal(again, first) {
		t.Errorf("same content, different digests: %v, %v", first, again)
	}
	if edited := adapt(strings.Replace(v1, "a.b", "a.c", 1)); edited[path] == first[path] {
		t.Errorf("an edited rule file keeps its digest %s", edited[path])
	}
}

// TestCaddyfileMissingRuleFile checks that a rule file that cannot be read
// fails the adapter with its name and the Caddyfile line naming it.
func TestCaddyfileMissingRuleFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	for name, tc := range map[string]struct{ cfg, at string }{
		"rules":    {":80 {\n\twebhooks {\n\t\trules " + missing + "\n\t}\n}\n", "at Caddyfile:3"},
		"argument": {":80 {\n\twebhooks * " + missing + "\n}\n", "at Caddyfile:2"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := caddyconfigAdapt(tc.cfg)
			if err == nil {
				t.Fatal("accepted a missing rule file")
			}
			if !strings.Contains(err.Error(), missing+": no such file") || !strings.Contains(err.Error(), tc.at) {
				t.Errorf("error %q does not name the file and %s", err, tc.at)
			}
		})
	}
}
