package signer_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// TestEd25519: a delivery signed with the private key verifies with the
// public key alone, by this package and by crypto/ed25519 straight from
// the Standard Webhooks definition ("id.timestamp.body"); during a
// rotation both keys sign; a changed body, another key or a shared secret
// does not verify.
func TestEd25519(t *testing.T) {
	priv, err := signer.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(priv, "whsk_") || signer.ValidateSecret(signer.Ed25519, priv) != nil {
		t.Fatalf("GenerateKey() = %q", priv)
	}
	pub, err := signer.PublicKey(priv)
	if err != nil || !strings.HasPrefix(pub, "whpk_") {
		t.Fatalf("PublicKey = %q, %v", pub, err)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	msg := signer.Message{ID: "evt_01JD0000000000000000000000", Timestamp: now, Body: []byte(`{"data":{"order":"o1"}}`)}
	h, err := signer.Sign(signer.Ed25519, msg, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Verify(signer.Ed25519, h, msg.Body, pub, now); err != nil {
		t.Errorf("Verify with the public key: %v", err)
	}

	// The receiver's side, from the definition only.
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, "whpk_"))
	sig, ok := strings.CutPrefix(h.Get("webhook-signature"), "v1a,")
	sigBytes, _ := base64.StdEncoding.DecodeString(sig)
	content := h.Get("webhook-id") + "." + strconv.FormatInt(now.Unix(), 10) + "." + string(msg.Body)
	if !ok || !ed25519.Verify(ed25519.PublicKey(raw), []byte(content), sigBytes) {
		t.Errorf("crypto/ed25519 does not verify %q", h.Get("webhook-signature"))
	}

	if err := signer.Verify(signer.Ed25519, h, []byte(`{"data":{"order":"o2"}}`), pub, now); !errors.Is(err, signer.ErrMismatch) {
		t.Errorf("a changed body: %v", err)
	}
	other, _ := signer.GenerateKey()
	otherPub, _ := signer.PublicKey(other)
	if err := signer.Verify(signer.Ed25519, h, msg.Body, otherPub, now); !errors.Is(err, signer.ErrMismatch) {
		t.Errorf("another key: %v", err)
	}
	if err := signer.Verify(signer.Ed25519, h, msg.Body, priv, now); !errors.Is(err, signer.ErrInvalidSecret) {
		t.Errorf("verifying with the private key instead of the public one: %v", err)
	}
	if err := signer.Verify(signer.Standard, h, msg.Body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now); !errors.Is(err, signer.ErrNoSignature) {
		t.Errorf("a v1 receiver given only v1a: %v", err)
	}

	// A rotation: the new key and the previous one both sign.
	h, err = signer.Sign(signer.Ed25519, msg, other, priv)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during a rotation, want 2", n)
	}
	for _, k := range []string{pub, otherPub} {
		if err := signer.Verify(signer.Ed25519, h, msg.Body, k, now); err != nil {
			t.Errorf("during a rotation, %s: %v", k[:12], err)
		}
	}

	for _, bad := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsk_!!", "whsk_" + base64.StdEncoding.EncodeToString(make([]byte, 10))} {
		if signer.ValidateSecret(signer.Ed25519, bad) == nil {
			t.Errorf("ValidateSecret(ed25519, %q) = nil", bad)
		}
	}
}
