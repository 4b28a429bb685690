// Package signer signs webhook deliveries and verifies them as a receiver
// would.
//
// Three schemes are supported, named as in a subscription's "signature"
// field:
//
//   - [Standard] follows the Standard Webhooks specification
//     (https://www.standardwebhooks.com), so receivers can use its public
//     libraries: the headers webhook-id, webhook-timestamp and
//     webhook-signature ("v1,<base64>", several separated by spaces during a
//     secret rotation), the HMAC-SHA256 covering "id.timestamp.body", and a
//     "whsec_"-prefixed base64 secret whose decoded bytes are the key.
//   - [SHA256] (the example shop's scheme): X-Webhook-Signature is
//     "sha256=<hex>" of the HMAC-SHA256 of the body.
//   - [Hex] (the example CRM's scheme): X-Webhook-Signature is the
//     bare hex HMAC-SHA256 of the body.
//
// For the two legacy schemes the key is the secret string's bytes, whatever
// it looks like, because that is what receivers written for them do.
//
// The package is pure: apart from crypto/rand in [GenerateSecret] it does no
// I/O, and it does not depend on Caddy, so the delivery workers, the admin
// API and the example receiver can all share it.
package signer
