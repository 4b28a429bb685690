package signer

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// secretPrefix marks Standard Webhooks secrets.
	secretPrefix = "whsec_"
	// generatedBytes is the key size of generated secrets: 256 bits, the
	// size of the HMAC-SHA256 block's natural key.
	generatedBytes = 32
	// Bounds of a Standard key, from the Standard Webhooks specification.
	minStandardBytes = 24
	maxStandardBytes = 64
	// minLegacyChars is the shortest secret accepted for sha256 and hex.
	minLegacyChars = 16
	// hintChars is how many secret characters Hint shows at most.
	hintChars = 4
)

// errStandardFormat is the user-facing rule for Standard secrets.
var errStandardFormat = errors.New(`must be "whsec_" followed by base64 of 24 to 64 bytes`)

// GenerateSecret returns "whsec_" + standard base64 of 32 random bytes from
// crypto/rand. It is used for every scheme: the legacy schemes then use the
// whole string as the HMAC key, so one generator serves all subscriptions and
// a subscription can switch scheme without a new secret.
func GenerateSecret() (string, error) {
	b := make([]byte, generatedBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ValidateSecret says why secret does not fit scheme, or returns nil.
//
// For Standard the secret must be "whsec_" followed by standard base64
// (padded or not) decoding to 24 to 64 bytes; for SHA256 and Hex it must be
// at least 16 characters. The messages are meant for users (the admin API
// shows them next to the "secret" field), so they do not repeat the field
// name.
func ValidateSecret(scheme, secret string) error {
	switch scheme {
	case Standard:
		_, err := standardKey(secret)
		return err
	case Ed25519:
		_, err := privateKey(secret)
		return err
	case SHA256, Hex:
		if n := utf8.RuneCountInString(secret); n < minLegacyChars {
			return fmt.Errorf("must be at least %d characters (got %d)", minLegacyChars, n)
		}
		return nil
	default:
		return unknownScheme(scheme)
	}
}

// standardKey decodes a Standard secret into its HMAC key, or says why it
// cannot.
func standardKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errStandardFormat
	}
	// Go's base64 decoder silently skips \r and \n; a secret pasted with a
	// line break would then "work" here but not in other libraries, so only
	// the alphabet itself is allowed.
	for i := 0; i < len(enc); i++ {
		if !isBase64Char(enc[i]) {
			return nil, fmt.Errorf("%w (invalid character at position %d)", errStandardFormat, len(secretPrefix)+i)
		}
	}
	// Padding is optional: with "=" the padded alphabet must fit exactly,
	// without it the unpadded one.
	dec := base64.RawStdEncoding
	if strings.HasSuffix(enc, "=") {
		dec = base64.StdEncoding
	}
	key, err := dec.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", errStandardFormat, err)
	}
	if len(key) < minStandardBytes || len(key) > maxStandardBytes {
		return nil, fmt.Errorf("%w (got %d bytes)", errStandardFormat, len(key))
	}
	return key, nil
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '='
}

// Hint returns the first characters of a secret for display where the full
// secret must not appear: "whsec_" + its next 4 characters + "…" (for
// example "whsec_ab12…"), or for any other secret its first 4 characters +
// "…". It never shows more than half of the secret material, so a short
// secret shows fewer characters; an empty secret gives "".
func Hint(secret string) string {
	if secret == "" {
		return ""
	}
	prefix, rest := "", secret
	if after, ok := strings.CutPrefix(secret, secretPrefix); ok {
		prefix, rest = secretPrefix, after
	}
	// Count runes so a legacy secret is never cut inside a UTF-8 sequence.
	r := []rune(rest)
	n := min(hintChars, len(r)/2)
	return prefix + string(r[:n]) + "…"
}

// keyFor returns the HMAC key of secret under scheme after checking it with
// the same rules as ValidateSecret, so that nothing signs or verifies with a
// secret the admin API would refuse.
func keyFor(scheme, secret string) ([]byte, error) {
	if err := ValidateSecret(scheme, secret); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSecret, err)
	}
	if scheme == Standard {
		return standardKey(secret)
	}
	return []byte(secret), nil
}

func unknownScheme(scheme string) error {
	return fmt.Errorf("%w %q (want %s, %s, %s or %s)", ErrUnknownScheme, scheme, Standard, SHA256, Hex, Ed25519)
}
