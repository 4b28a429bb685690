package receiver

import (
	"net/http"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// DetectScheme guesses the signature scheme of a delivery from its headers,
// as Options.Scheme Auto does: a webhook-signature header means
// signer.Standard, an X-Webhook-Signature starting with "sha256=" means
// signer.SHA256, any other non-empty X-Webhook-Signature means signer.Hex.
// With none of these it returns "". Standard wins when both headers are
// present.
func DetectScheme(h http.Header) string {
	if sig := strings.TrimSpace(h.Get("Webhook-Signature")); sig != "" {
		if strings.HasPrefix(sig, "v1a,") {
			return signer.Ed25519
		}
		return signer.Standard
	}
	v := strings.TrimSpace(h.Get("X-Webhook-Signature"))
	switch {
	case v == "":
		return ""
	case strings.HasPrefix(v, "sha256="):
		return signer.SHA256
	default:
		return signer.Hex
	}
}
