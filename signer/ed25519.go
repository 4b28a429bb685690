package signer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Ed25519 is Standard Webhooks' asymmetric scheme: the same webhook-id and
// webhook-timestamp, and webhook-signature "v1a,<base64>", an Ed25519
// signature of "id.timestamp.body". The subscription keeps the private key
// ("whsk_" + base64 of the 64-byte key, or of its 32-byte seed); the
// receiver verifies with the public key alone ("whpk_" + base64 of its 32
// bytes), which can sign nothing.
const Ed25519 = "ed25519"

const (
	privatePrefix = "whsk_"
	publicPrefix  = "whpk_"
)

// IsKeyPair reports whether a scheme's secret is a private key, which is
// generated and never shown, rather than a shared secret.
func IsKeyPair(scheme string) bool { return scheme == Ed25519 }

// GenerateKey returns a new private key for Ed25519, "whsk_" + base64.
func GenerateKey() (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating an ed25519 key: %w", err)
	}
	return privatePrefix + base64.StdEncoding.EncodeToString(priv), nil
}

// privateKey decodes a "whsk_" key.
func privateKey(secret string) (ed25519.PrivateKey, error) {
	enc, ok := strings.CutPrefix(secret, privatePrefix)
	if !ok {
		return nil, fmt.Errorf(`must be "%s" followed by base64 of an ed25519 key`, privatePrefix)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	switch {
	case err != nil:
		return nil, fmt.Errorf("the key is not base64: %w", err)
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("the key is %d bytes, want %d or %d", len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// PublicKey returns the public key of an Ed25519 private key, "whpk_" +
// base64: what a receiver verifies with.
func PublicKey(secret string) (string, error) {
	priv, err := privateKey(secret)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidSecret, err)
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	return publicPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// publicKey decodes a "whpk_" key.
func publicKey(key string) (ed25519.PublicKey, error) {
	enc, ok := strings.CutPrefix(key, publicPrefix)
	if !ok {
		return nil, fmt.Errorf(`%w: want "%s" followed by base64 of an ed25519 public key`, ErrInvalidSecret, publicPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the public key is not base64 of %d bytes", ErrInvalidSecret, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// signEd25519 gives one "v1a,<base64>" per private key.
func signEd25519(id, ts string, body []byte, secrets []string) ([]string, error) {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		priv, err := privateKey(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w: %w", i+1, ErrInvalidSecret, err)
		}
		sigs[i] = "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, signedContent(id, ts, body)))
	}
	return sigs, nil
}

// signedContent is what Standard Webhooks signs: "id.timestamp.body".
func signedContent(id, ts string, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(ts)+len(body)+2)
	b = append(b, id...)
	b = append(b, '.')
	b = append(b, ts...)
	b = append(b, '.')
	return append(b, body...)
}

// verifyEd25519 checks the "v1a," signatures of a delivery with a public
// key ("whpk_"), as verifyStandard does the "v1," ones with a secret.
func verifyEd25519(header http.Header, body []byte, key string, now time.Time) error {
	pub, err := publicKey(key)
	if err != nil {
		return err
	}
	id, sec, err := standardHeaders(header, now)
	if err != nil {
		return err
	}
	candidates := signatures(header, "v1a,")
	if len(candidates) == 0 {
		return fmt.Errorf("%w: %s has no valid v1a signature", ErrNoSignature, headerSignature)
	}
	content := signedContent(id, strconv.FormatInt(sec, 10), body)
	for _, c := range candidates {
		if ed25519.Verify(pub, content, c) {
			return nil
		}
	}
	return fmt.Errorf("%w: none of %d v1a signatures matches", ErrMismatch, len(candidates))
}

// ValidatePublicKey says why key is not an Ed25519 public key ("whpk_" +
// base64 of 32 bytes), or returns nil: what a receiver verifies with.
func ValidatePublicKey(key string) error {
	_, err := publicKey(key)
	return err
}
