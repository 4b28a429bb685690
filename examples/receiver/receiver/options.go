package receiver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// Auto is the Options.Scheme that detects the scheme of each delivery from
// its headers (see [DetectScheme]). The empty string means Auto too.
const Auto = "auto"

// DefaultKeep is how many deliveries are kept when Options.Keep is 0.
const DefaultKeep = 100

// MaxBody is the largest request body read (5 MiB); a larger one is
// rejected with 413.
const MaxBody = 5 << 20

// Options configure a Receiver. Only Secret is required.
type Options struct {
	// Secret is the subscription's secret: "whsec_…" for standard, any
	// string of 16+ characters for sha256 and hex (a "whsec_…" secret
	// also works for those, used as-is as the HMAC key).
	Secret string
	// Scheme is Auto ("" too), or one of signer.Standard, signer.SHA256
	// and signer.Hex to accept only that scheme.
	Scheme string
	// Status is the HTTP status answered to verified deliveries; 0 means
	// 200. Useful to watch retries (500) or pausing (410).
	Status int
	// Out receives the one-line summaries; nil prints nothing. Writes are
	// serialised, one whole line at a time.
	Out io.Writer
	// Keep is how many deliveries GET /deliveries returns at most; 0
	// means DefaultKeep.
	Keep int
	// Now is the clock for the standard scheme's timestamp tolerance;
	// nil means time.Now.
	Now func() time.Time
}

// Validate reports the first problem with o, as a command line would want
// to: an unknown scheme, a status outside 200–599, a negative Keep, or a
// secret that fits no accepted scheme. New does not call it: a Receiver
// built from invalid Options rejects every delivery with the reason.
func (o Options) Validate() error {
	if o.Scheme != "" && o.Scheme != Auto && !signer.ValidScheme(o.Scheme) {
		return fmt.Errorf("unknown scheme %q (want %s, %s, %s, %s or %s)", o.Scheme, Auto, signer.Standard, signer.SHA256, signer.Hex, signer.Ed25519)
	}
	if o.Status != 0 && (o.Status < 200 || o.Status > 599) {
		return fmt.Errorf("status %d: want 200–599", o.Status)
	}
	if o.Keep < 0 {
		return fmt.Errorf("keep %d: must not be negative", o.Keep)
	}
	if o.Secret == "" {
		return errors.New("no secret")
	}
	if o.isAuto() {
		if signer.ValidatePublicKey(o.Secret) == nil {
			return nil
		}
		for _, s := range signer.Schemes() {
			if !signer.IsKeyPair(s) && signer.ValidateSecret(s, o.Secret) == nil {
				return nil
			}
		}
		return fmt.Errorf("secret fits no scheme: %w", signer.ValidateSecret(signer.SHA256, o.Secret))
	}
	if signer.IsKeyPair(o.Scheme) {
		// An ed25519 receiver holds the subscription's public key only.
		if err := signer.ValidatePublicKey(o.Secret); err != nil {
			return fmt.Errorf("public key for %s: %w", o.Scheme, err)
		}
		return nil
	}
	if err := signer.ValidateSecret(o.Scheme, o.Secret); err != nil {
		return fmt.Errorf("secret for %s: %w", o.Scheme, err)
	}
	return nil
}

// isAuto reports whether the scheme is detected per delivery.
func (o Options) isAuto() bool { return o.Scheme == "" || o.Scheme == Auto }

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Status == 0 {
		o.Status = http.StatusOK
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
