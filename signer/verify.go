package signer

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Tolerance is how far webhook-timestamp may be from the receiver's clock,
// either way, for a Standard signature to be accepted; it bounds replays and
// is the default of the Standard Webhooks libraries.
const Tolerance = 5 * time.Minute

// Verify checks header and body against secret as a receiver would, and
// returns nil or an error saying what failed (wrapping ErrNoSignature,
// ErrMismatch, ErrTimestamp, ErrMissingHeader, ErrInvalidSecret or
// ErrUnknownScheme).
//
// Comparisons are constant-time (hmac.Equal). For Standard the id and
// timestamp come from the headers, the timestamp must be within Tolerance of
// now (checked first, so a stale delivery is refused whatever its
// signature), and any of the space-separated "v1," signatures may match, so
// a receiver still on the previous secret accepts deliveries during a
// rotation. now is ignored by SHA256 and Hex, which carry no signed time.
// Header names are matched case-insensitively even if header was built by
// hand with non-canonical keys.
func Verify(scheme string, header http.Header, body []byte, secret string, now time.Time) error {
	if !ValidScheme(scheme) {
		return unknownScheme(scheme)
	}
	if scheme == Ed25519 {
		return verifyEd25519(header, body, secret, now)
	}
	key, err := keyFor(scheme, secret)
	if err != nil {
		return err
	}
	if scheme == Standard {
		return verifyStandard(header, body, key, now)
	}
	return verifyLegacy(scheme, header, body, key)
}

func verifyStandard(header http.Header, body, key []byte, now time.Time) error {
	id, sec, err := standardHeaders(header, now)
	if err != nil {
		return err
	}
	// Other versions (e.g. "v1a," asymmetric) are skipped, as the
	// specification asks.
	candidates := signatures(header, "v1,")
	if len(candidates) == 0 {
		return fmt.Errorf("%w: %s has no valid v1 signature", ErrNoSignature, headerSignature)
	}
	// The signed timestamp is re-formatted from the parsed value, as the
	// Standard Webhooks libraries do, so what is signed is exactly what was
	// checked against the clock ("+1614265330" cannot smuggle another text).
	want := standardMAC(key, id, strconv.FormatInt(sec, 10), body)
	for _, c := range candidates {
		if hmac.Equal(c, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: none of %d v1 signatures matches", ErrMismatch, len(candidates))
}

// standardHeaders returns the webhook-id and the webhook-timestamp (unix
// seconds), checked against now within Tolerance.
func standardHeaders(header http.Header, now time.Time) (string, int64, error) {
	id := firstValue(header, headerID)
	if id == "" {
		return "", 0, fmt.Errorf("%w: %s", ErrMissingHeader, headerID)
	}
	ts := firstValue(header, headerTimestamp)
	if ts == "" {
		return "", 0, fmt.Errorf("%w: %s", ErrMissingHeader, headerTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s %q is not unix seconds: %w", ErrTimestamp, headerTimestamp, ts, err)
	}
	// time.Time.Sub saturates, so absurd timestamps simply land outside the
	// window instead of overflowing into it.
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance {
		return "", 0, fmt.Errorf("%w: %s is %s old (tolerance %s)", ErrTimestamp, headerTimestamp, d.Round(time.Second), Tolerance)
	} else if d < -Tolerance {
		return "", 0, fmt.Errorf("%w: %s is %s in the future (tolerance %s)", ErrTimestamp, headerTimestamp, (-d).Round(time.Second), Tolerance)
	}
	return id, sec, nil
}

// signatures returns the decoded signatures of one version ("v1,",
// "v1a,") in webhook-signature. Several header lines are treated as one
// space-separated list, as a proxy may have split them; an undecodable
// entry cannot match, and is not an error on its own because another may
// still be valid.
func signatures(header http.Header, version string) [][]byte {
	var out [][]byte
	for _, v := range allValues(header, headerSignature) {
		for _, f := range strings.Fields(v) {
			enc, ok := strings.CutPrefix(f, version)
			if !ok {
				continue
			}
			if sig, err := base64.StdEncoding.DecodeString(enc); err == nil {
				out = append(out, sig)
			}
		}
	}
	return out
}

func verifyLegacy(scheme string, header http.Header, body, key []byte) error {
	v := firstValue(header, headerLegacy)
	if v == "" {
		return fmt.Errorf("%w: %s", ErrNoSignature, headerLegacy)
	}
	enc := v
	if scheme == SHA256 {
		var ok bool
		if enc, ok = strings.CutPrefix(v, "sha256="); !ok {
			return fmt.Errorf("%w: %s is not \"sha256=<hex>\"", ErrMismatch, headerLegacy)
		}
	}
	// Decoding accepts upper-case hex too; the comparison is then on the
	// MAC bytes.
	sig, err := hex.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex: %w", ErrMismatch, headerLegacy, err)
	}
	if !hmac.Equal(sig, bodyMAC(key, body)) {
		return fmt.Errorf("%w: %s", ErrMismatch, headerLegacy)
	}
	return nil
}

// allValues returns the values of the header name, looking under the
// canonical key first and then under any key equal to it ignoring case.
func allValues(h http.Header, name string) []string {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	vs := h[canon]
	for k, more := range h {
		if k != canon && strings.EqualFold(k, name) {
			vs = append(vs[:len(vs):len(vs)], more...)
		}
	}
	return vs
}

// firstValue is the first value of the header name, trimmed as an HTTP
// parser would, or "".
func firstValue(h http.Header, name string) string {
	if vs := allValues(h, name); len(vs) > 0 {
		return strings.TrimSpace(vs[0])
	}
	return ""
}
