package signer

import (
	"errors"
	"slices"
)

// Scheme names, as in the subscription's `signature` field.
const (
	// Standard is the Standard Webhooks scheme: webhook-id,
	// webhook-timestamp (unix seconds) and webhook-signature "v1,<base64>"
	// over "id.timestamp.body"; the secret is "whsec_" + base64 of 24 to 64
	// bytes and the HMAC key is the decoded bytes.
	Standard = "standard"
	// SHA256 is the example shop's scheme: X-Webhook-Signature "sha256=<hex>"
	// over the body; the HMAC key is the whole secret string's bytes.
	SHA256 = "sha256"
	// Hex is the example CRM's scheme: X-Webhook-Signature "<hex>" over the
	// body; the HMAC key is the whole secret string's bytes.
	Hex = "hex"
)

// Header names. Sign sets them with http.Header.Set, so they are stored
// under their canonical forms (Webhook-Id, …); on the wire HTTP header names
// are case-insensitive, which is all Standard Webhooks asks for.
const (
	headerID        = "webhook-id"
	headerTimestamp = "webhook-timestamp"
	headerSignature = "webhook-signature"
	headerLegacy    = "X-Webhook-Signature"
)

// schemes is in display order: Standard first because it is the default.
var schemes = []string{Standard, SHA256, Hex, Ed25519}

// Schemes returns the scheme names, Standard (the default) first. The slice
// is a fresh copy the caller may modify.
func Schemes() []string { return slices.Clone(schemes) }

// ValidScheme reports whether name is one of [Schemes] (case-sensitive, as
// stored in a subscription).
func ValidScheme(name string) bool { return slices.Contains(schemes, name) }

// Errors returned (wrapped, with details) by Sign and Verify; test them with
// errors.Is.
var (
	// ErrNoSignature means the signature header is missing or empty, or (for
	// Standard) holds no "v1," signature.
	ErrNoSignature = errors.New("no signature")
	// ErrMismatch means no signature matched the body (and, for Standard,
	// the id and timestamp) under the secret.
	ErrMismatch = errors.New("signature mismatch")
	// ErrTimestamp means the webhook-timestamp header is not an integer or is
	// further than Tolerance from now.
	ErrTimestamp = errors.New("bad timestamp")
	// ErrMissingHeader means a Standard header other than the signature
	// (webhook-id or webhook-timestamp) is missing.
	ErrMissingHeader = errors.New("missing header")
	// ErrUnknownScheme means the scheme is not one of Schemes.
	ErrUnknownScheme = errors.New("unknown signature scheme")
	// ErrInvalidSecret means a secret does not fit the scheme (see
	// ValidateSecret), or no secret was given.
	ErrInvalidSecret = errors.New("invalid secret")
	// ErrInvalidMessage means a Message cannot be signed with Standard: an
	// empty or malformed id, or a zero timestamp.
	ErrInvalidMessage = errors.New("invalid message")
)
