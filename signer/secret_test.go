package signer_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// whsec builds a Standard secret from n bytes (not random: only the length
// matters here).
func whsec(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func TestGenerateSecret(t *testing.T) {
	a, err := signer.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := signer.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two generated secrets are equal: %q", a)
	}
	enc, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("GenerateSecret() = %q, want whsec_ prefix", a)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		t.Fatalf("GenerateSecret() = %q: decodes to %d bytes, err %v; want 32 bytes", a, len(key), err)
	}
	for _, s := range signer.Schemes() {
		if err := signer.ValidateSecret(s, a); err != nil {
			t.Errorf("ValidateSecret(%q, generated) = %v", s, err)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	const standardRule = `must be "whsec_" followed by base64 of 24 to 64 bytes`
	unpadded := strings.TrimRight(whsec(32), "=")
	for _, tc := range []struct {
		name, scheme, secret string
		wantErr              string // substring; "" means valid
	}{
		{"reference vector", signer.Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"24 bytes", signer.Standard, whsec(24), ""},
		{"32 bytes padded", signer.Standard, whsec(32), ""},
		{"32 bytes unpadded", signer.Standard, unpadded, ""},
		{"64 bytes", signer.Standard, whsec(64), ""},
		{"23 bytes", signer.Standard, whsec(23), standardRule + " (got 23 bytes)"},
		{"65 bytes", signer.Standard, whsec(65), standardRule + " (got 65 bytes)"},
		{"too short", signer.Standard, "whsec_abcd", standardRule},
		{"prefix only", signer.Standard, "whsec_", standardRule},
		{"empty", signer.Standard, "", standardRule},
		{"no prefix", signer.Standard, strings.TrimPrefix(whsec(32), "whsec_"), standardRule},
		{"wrong prefix case", signer.Standard, "WHSEC_" + strings.TrimPrefix(whsec(32), "whsec_"), standardRule},
		{"bad base64 char", signer.Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", standardRule + " (invalid character"},
		{"url-safe alphabet", signer.Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_", standardRule + " (invalid character"},
		{"bad base64 length", signer.Standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA", standardRule + " (illegal base64"},
		{"bad padding", signer.Standard, unpadded + "==", standardRule + " (illegal base64"},
		{"line break", signer.Standard, "whsec_MfKQ9r8GKYqrTwjU\nPD8ILPZIo2LaLaSw", standardRule + " (invalid character"},
		{"sha256 16 chars", signer.SHA256, "0123456789abcdef", ""},
		{"sha256 15 chars", signer.SHA256, "0123456789abcde", "must be at least 16 characters (got 15)"},
		{"hex 16 chars", signer.Hex, "0123456789abcdef", ""},
		{"hex 15 chars", signer.Hex, "0123456789abcde", "must be at least 16 characters (got 15)"},
		{"hex empty", signer.Hex, "", "must be at least 16 characters (got 0)"},
		{"hex 16 runes", signer.Hex, "éééééééééééééééé", ""},
		{"hex 15 runes in 30 bytes", signer.Hex, "ééééééééééééééé", "must be at least 16 characters (got 15)"},
		{"legacy takes a whsec secret", signer.Hex, whsec(32), ""},
		{"unknown scheme", "sha1", "0123456789abcdef", `unknown signature scheme "sha1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := signer.ValidateSecret(tc.scheme, tc.secret)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ValidateSecret(%q, %q) = %v, want nil", tc.scheme, tc.secret, err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("ValidateSecret(%q, %q) = nil, want %q", tc.scheme, tc.secret, tc.wantErr)
			case tc.wantErr != "" && !strings.HasPrefix(err.Error(), tc.wantErr):
				t.Fatalf("ValidateSecret(%q, %q) = %q, want it to start with %q", tc.scheme, tc.secret, err, tc.wantErr)
			}
		})
	}
	if err := signer.ValidateSecret("nope", "x"); !errors.Is(err, signer.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v does not wrap ErrUnknownScheme", err)
	}
}

func TestHint(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		{"whsec_ab12cdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "whsec_ab12…"},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ…"},
		{"0123456789abcdef", "0123…"},
		{"éééééééééééééééé", "éééé…"},
		{"whsec_abcdef", "whsec_abc…"}, // half of the 6 characters after the prefix
		{"abcdef", "abc…"},
		{"abc", "a…"},
		{"a", "…"},
		{"whsec_", "whsec_…"},
		{"", ""},
	} {
		if got := signer.Hint(tc.secret); got != tc.want {
			t.Errorf("Hint(%q) = %q, want %q", tc.secret, got, tc.want)
		}
	}
}
