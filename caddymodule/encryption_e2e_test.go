package caddymodule_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
)

// TestEncryptionKeyWithCaddy runs real Caddy on an encrypted store: the
// event it infers is not in the store's files in clear; a reload cannot
// change the key; a restart without the key fails with the reason;
// `caddy webhooks-rotate-key` changes the key, and Caddy starts with the
// new one from encryption_key_file.
func TestEncryptionKeyWithCaddy(t *testing.T) {
	// Badger compresses with Snappy: the marker starts with text that no
	// earlier bytes repeat, lest a back-reference replace its start.
	const marker = "Q7xv-enc-e2e-marker-3b9d"
	key1, key2 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 16)
	env1 := "WEBHOOKS_TEST_KEY=" + base64.StdEncoding.EncodeToString(key1)
	up := upstream(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "webhooks")
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(testRules), 0o600); err != nil {
		t.Fatal(err)
	}
	mp, pp := testbed.FreePort(t), testbed.FreePort(t)
	cfg := func(extra string) string {
		return caddyfileFor(mp, pp, up.Listener.Addr().String(), rulePath, extra)
	}
	withEnvKey := cfg("encryption_key {env.WEBHOOKS_TEST_KEY}")

	c := testbed.StartCaddy(t, dir, withEnvKey, env1)
	if resp, body := post(t, fmt.Sprintf("http://127.0.0.1:%d/api/orders", mp), `{"total":5}`, "X-Client", marker); resp.StatusCode != 201 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	if l := logLines(c, "webhooks store opened"); len(l) != 1 || l[0]["encrypted"] != true {
		t.Errorf("store opened log lines: %v", l)
	}
	// A reload without the key is refused; the running config keeps serving.
	if status, body := c.Load(cfg("")); status == 200 || !strings.Contains(body, "changing encryption_key needs a restart of Caddy") {
		t.Errorf("reload without the key: %d %s", status, body)
	}
	c.Stop()

	if testbed.DirContains(t, storage, marker) {
		t.Errorf("the store's files hold the event's text in clear")
	}
	if evs := encryptedEvents(t, storage, key1); len(evs) != 1 || !strings.Contains(string(evs[0].Data), marker) {
		t.Fatalf("events read with the key: %+v", evs)
	}

	out := testbed.StartCaddyFails(t, dir, cfg(""))
	if !strings.Contains(out, "opening webhooks store "+storage+": "+badgerstore.ErrStoreEncrypted.Error()) {
		t.Errorf("start without the key: want %q in:\n%s", badgerstore.ErrStoreEncrypted, out)
	}

	// Rotate to key2, then start with it from a key file.
	oldFile, newFile := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	for path, key := range map[string]string{oldFile: base64.StdEncoding.EncodeToString(key1), newFile: hex.EncodeToString(key2)} {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rot := exec.Command(testbed.CaddyBinary(t), "webhooks-rotate-key", "--storage", storage, "--old-key-file", oldFile, "--new-key-file", newFile)
	if b, err := rot.CombinedOutput(); err != nil || !strings.Contains(string(b), "is changed") {
		t.Fatalf("webhooks-rotate-key: %v\n%s", err, b)
	}
	c = testbed.StartCaddy(t, dir, cfg("encryption_key_file "+newFile))
	c.Stop()
	if evs := encryptedEvents(t, storage, key2); len(evs) != 1 || !strings.Contains(string(evs[0].Data), marker) {
		t.Fatalf("events read with the new key: %+v", evs)
	}
}
