package signer_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// FuzzVerify checks that Verify never panics on arbitrary headers and
// bodies, never accepts them, and that whatever Sign produces verifies (and
// stops verifying once the body changes).
func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), refID, int64(refTimestamp), []byte(refPayload), []byte("0123456789abcdef01234567"), refSignature, "1614265330")
	f.Add(uint8(1), "evt_1", int64(0), []byte{}, []byte("short"), "sha256=00", "x")
	f.Add(uint8(2), "", int64(-62135596800), []byte{0xff, 0}, []byte{}, "v1,", "-1")
	f.Add(uint8(0), " a\r\n", int64(1<<62), []byte("{}"), []byte("é"), "v1,!! v1a,x v1,AAAA", "+1614265330")
	f.Fuzz(func(t *testing.T, schemeN uint8, id string, ts int64, body, secretSeed []byte, sigHeader, tsHeader string) {
		schemes := signer.Schemes()
		scheme := schemes[int(schemeN)%len(schemes)]
		now := time.Unix(ts, 0)

		// Arbitrary headers: must not panic, and must not verify under a
		// secret absent from the seed corpus (the fuzzer cannot forge an
		// HMAC; the first seed is the genuine reference vector).
		forged := http.Header{
			"webhook-id":          {id},
			"Webhook-Timestamp":   {tsHeader},
			"webhook-signature":   {sigHeader},
			"Webhook-Signature":   {sigHeader},
			"X-Webhook-Signature": {sigHeader},
		}
		for _, s := range schemes {
			if err := signer.Verify(s, forged, body, unseenSecret, now); err == nil {
				t.Fatalf("%s: forged headers verified: %q", s, forged)
			}
			_ = signer.Verify(s, forged, body, string(secretSeed), now) // any secret: no panic
		}
		_ = signer.Hint(string(secretSeed))
		_ = signer.ValidateSecret(scheme, string(secretSeed))

		// Sign then Verify must agree.
		current, previous := fuzzSecret(scheme, secretSeed), fuzzSecret(scheme, append([]byte("p"), secretSeed...))
		msg := signer.Message{ID: id, Timestamp: now, Body: body}
		h, err := signer.Sign(scheme, msg, current, previous)
		if err != nil {
			if scheme != signer.SHA256 && scheme != signer.Hex && errors.Is(err, signer.ErrInvalidMessage) {
				return // an id or time that cannot be sent in headers
			}
			t.Fatalf("%s: Sign(%q, %q) = %v", scheme, current, previous, err)
		}
		// What a receiver holds: the secret, or for ed25519 the public key.
		currentKey, previousKey := verifyKey(t, scheme, current), verifyKey(t, scheme, previous)
		if err := signer.Verify(scheme, h, body, currentKey, now); err != nil {
			t.Fatalf("%s: Verify(Sign()) = %v; headers %q", scheme, err, h)
		}
		if scheme == signer.Standard || scheme == signer.Ed25519 {
			if err := signer.Verify(scheme, h, body, previousKey, now.Add(signer.Tolerance)); err != nil {
				t.Fatalf("%s: Verify(previous secret) = %v", scheme, err)
			}
			if err := signer.Verify(scheme, h, body, currentKey, now.Add(signer.Tolerance+time.Second)); !errors.Is(err, signer.ErrTimestamp) {
				t.Fatalf("%s: stale Verify = %v, want ErrTimestamp", scheme, err)
			}
		}
		tampered := append(append([]byte{}, body...), 'x')
		if err := signer.Verify(scheme, h, tampered, currentKey, now); !errors.Is(err, signer.ErrMismatch) {
			t.Fatalf("%s: Verify(tampered body) = %v, want ErrMismatch", scheme, err)
		}
	})
}

// verifyKey is what verifies deliveries signed with secret: the secret
// itself, or an ed25519 private key's public key.
func verifyKey(t *testing.T, scheme, secret string) string {
	if scheme != signer.Ed25519 {
		return secret
	}
	pub, err := signer.PublicKey(secret)
	if err != nil {
		t.Fatalf("PublicKey(%q) = %v", secret, err)
	}
	return pub
}

// unseenSecret is valid for every scheme and appears in no seed.
var unseenSecret = whsec(48)

// fuzzSecret turns fuzz bytes into a secret valid for scheme.
func fuzzSecret(scheme string, seed []byte) string {
	if scheme == signer.Ed25519 {
		k := sha256.Sum256(seed) // an ed25519 seed
		return "whsk_" + base64.StdEncoding.EncodeToString(k[:])
	}
	if scheme == signer.Standard {
		key := append([]byte{}, seed...)
		for len(key) < 24 {
			key = append(key, byte(len(key)))
		}
		return "whsec_" + base64.StdEncoding.EncodeToString(key[:min(len(key), 64)])
	}
	if s := string(seed); utf8.RuneCountInString(s) >= 16 {
		return s
	}
	return "fuzz-secret-" + hex.EncodeToString(seed) + "-pad"
}
