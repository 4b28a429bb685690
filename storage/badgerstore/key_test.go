package badgerstore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestParseKey(t *testing.T) {
	k16, k24, k32 := seq(16), seq(24), seq(32)
	ok := []struct {
		name, text string
		want       []byte
	}{
		{"hex 16", hex.EncodeToString(k16), k16},
		{"hex 24", hex.EncodeToString(k24), k24},
		{"hex 32 upper case", strings.ToUpper(hex.EncodeToString(k32)), k32},
		{"base64 16 padded", base64.StdEncoding.EncodeToString(k16), k16},
		{"base64 16 unpadded", base64.RawStdEncoding.EncodeToString(k16), k16},
		{"base64 24", base64.StdEncoding.EncodeToString(k24), k24},
		{"base64 32", base64.StdEncoding.EncodeToString(k32), k32},
		{"base64url 32", base64.URLEncoding.EncodeToString(k32), k32},
		{"base64url 32 unpadded", base64.RawURLEncoding.EncodeToString(k32), k32},
		{"trailing newline", hex.EncodeToString(k32) + "\n", k32},
		{"trailing CRLF", base64.StdEncoding.EncodeToString(k16) + "\r\n", k16},
		{"surrounding blank lines", "\n" + hex.EncodeToString(k16) + "\n\n", k16},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKey(tc.text)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("got %x, %v; want %x", got, err, tc.want)
			}
		})
	}
	bad := []struct{ name, text, want string }{
		{"empty", "", "the key is empty"},
		{"newline only", "\n", "the key is empty"},
		{"base64 of 20 bytes", base64.StdEncoding.EncodeToString(seq(20)), "the key is 20 bytes of base64"},
		{"hex of 15 bytes", hex.EncodeToString(seq(15)), "the key is 22 bytes of base64"},
		{"hex of 64 bytes", hex.EncodeToString(seq(64)), "the key is 96 bytes of base64"},
		{"passphrase", "correct-horse-battery-staple!", "the key (29 characters) is neither hex nor base64"},
		{"inner space", "AAAAAAAAAAAA AAAAAAAAAAA", "the key contains white space"},
		{"two lines", hex.EncodeToString(k16)[:16] + "\n" + hex.EncodeToString(k16)[16:], "the key contains white space"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKey(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if s := strings.TrimSpace(tc.text); len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Errorf("the error %q prints the key", err)
			}
		})
	}
}

// seq returns n bytes 1, 2, 3...
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func TestProvisionKey(t *testing.T) {
	k32 := seq(32)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	badFile := filepath.Join(dir, "bad.key")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, base64.StdEncoding.EncodeToString(k32)+"\n")
	write(badFile, "hunter2-not-a-key\n")
	t.Setenv("WEBHOOKS_TEST_UNIT_KEY", hex.EncodeToString(k32))
	for _, tc := range []struct {
		name      string
		key, file string
		want      []byte
		err       string
	}{
		{"none", "", "", nil, ""},
		{"env placeholder", "{env.WEBHOOKS_TEST_UNIT_KEY}", "", k32, ""},
		{"file placeholder", "{file." + good + "}", "", k32, ""},
		{"literal", hex.EncodeToString(k32), "", k32, ""},
		{"key file", "", good, k32, ""},
		{"unset variable", "{env.WEBHOOKS_TEST_UNSET_KEY}", "", nil, "encryption_key is empty once its placeholders are replaced"},
		{"bad literal", "hunter2-not-a-key", "", nil, "encryption_key: the key (17 characters) is neither hex nor base64"},
		{"both", "{env.WEBHOOKS_TEST_UNIT_KEY}", good, nil, "encryption_key and encryption_key_file are both set"},
		{"missing file", "", filepath.Join(dir, "nope"), nil, "encryption_key_file: open " + filepath.Join(dir, "nope")},
		{"bad file", "", badFile, nil, "encryption_key_file: " + badFile + ": the key (17 characters) is neither hex nor base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Backend{EncryptionKey: tc.key, EncryptionKeyFile: tc.file}
			err := a.provisionKey(caddy.NewReplacer())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error %q prints the key", err)
				}
				return
			}
			if err != nil || !bytes.Equal(a.key, tc.want) {
				t.Errorf("got %x, %v; want %x", a.key, err, tc.want)
			}
		})
	}
}
