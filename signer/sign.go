package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is what is signed.
type Message struct {
	// ID is the event id (evt_…); it is sent as webhook-id for Standard and
	// stays the same on every retry so receivers can de-duplicate.
	ID string
	// Timestamp is sent as webhook-timestamp for Standard, in whole unix
	// seconds.
	Timestamp time.Time
	// Body is the exact request body that will be sent.
	Body []byte
}

// Sign returns the signature headers for msg with the given secrets: the
// first is the current secret; further ones are previous secrets still in a
// rotation's grace period.
//
// For Standard, every secret yields one "v1,<base64>" and they are joined
// with a single space in webhook-signature; webhook-id and webhook-timestamp
// are set too. For SHA256 and Hex only the first (current) secret is used,
// giving one X-Webhook-Signature value: those receivers compare against a
// single value, so extra ones would only break them.
//
// It returns an error wrapping ErrUnknownScheme, ErrInvalidSecret (no secret,
// or one that ValidateSecret refuses) or, for Standard, ErrInvalidMessage.
func Sign(scheme string, msg Message, secrets ...string) (http.Header, error) {
	if !ValidScheme(scheme) {
		return nil, unknownScheme(scheme)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	h := make(http.Header, 3)
	switch scheme {
	case Ed25519:
		if err := checkMessage(msg); err != nil {
			return nil, err
		}
		ts := strconv.FormatInt(msg.Timestamp.Unix(), 10)
		sigs, err := signEd25519(msg.ID, ts, msg.Body, secrets)
		if err != nil {
			return nil, err
		}
		h.Set(headerID, msg.ID)
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, strings.Join(sigs, " "))
	case Standard:
		if err := checkMessage(msg); err != nil {
			return nil, err
		}
		ts := strconv.FormatInt(msg.Timestamp.Unix(), 10)
		sigs := make([]string, len(secrets))
		for i, s := range secrets {
			key, err := keyFor(scheme, s)
			if err != nil {
				return nil, fmt.Errorf("secret %d: %w", i+1, err)
			}
			sigs[i] = "v1," + base64.StdEncoding.EncodeToString(standardMAC(key, msg.ID, ts, msg.Body))
		}
		h.Set(headerID, msg.ID)
		h.Set(headerTimestamp, ts)
		h.Set(headerSignature, strings.Join(sigs, " "))
	case SHA256, Hex:
		key, err := keyFor(scheme, secrets[0])
		if err != nil {
			return nil, err
		}
		sig := hex.EncodeToString(bodyMAC(key, msg.Body))
		if scheme == SHA256 {
			sig = "sha256=" + sig
		}
		h.Set(headerLegacy, sig)
	}
	return h, nil
}

// checkMessage refuses what would make Standard headers unusable: a zero
// timestamp is always a caller bug, and an id with control characters or
// surrounding spaces could not travel intact in a header (receivers' HTTP
// parsers trim or reject it, and the signature would no longer match).
func checkMessage(msg Message) error {
	if msg.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidMessage)
	}
	if strings.TrimSpace(msg.ID) != msg.ID {
		return fmt.Errorf("%w: id %q has surrounding spaces", ErrInvalidMessage, msg.ID)
	}
	for _, r := range msg.ID {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: id %q has a control character", ErrInvalidMessage, msg.ID)
		}
	}
	if msg.Timestamp.IsZero() {
		return fmt.Errorf("%w: zero timestamp", ErrInvalidMessage)
	}
	return nil
}

// standardMAC is HMAC-SHA256(key, id + "." + ts + "." + body), written piece
// by piece so the body is not copied.
func standardMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	writeAll(m, []byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)
	return m.Sum(nil)
}

// bodyMAC is HMAC-SHA256(key, body), as the legacy schemes sign.
func bodyMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	writeAll(m, body)
	return m.Sum(nil)
}

func writeAll(h hash.Hash, parts ...[]byte) {
	for _, p := range parts {
		h.Write(p) // hash.Hash.Write never returns an error
	}
}
