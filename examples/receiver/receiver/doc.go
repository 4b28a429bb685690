// Package receiver is an example webhook endpoint for caddy-webhooks: an
// http.Handler that verifies each delivery's signature with the project's
// signer package, prints one line per delivery, and keeps the most recent
// deliveries in memory for inspection.
//
// Routes:
//
//   - POST on any path: a delivery. The body (at most [MaxBody] bytes) is
//     verified with [signer.Verify]; a good signature is answered with
//     [Options.Status] (200 by default) and a bad or missing one with 401
//     and the reason as text/plain. A body over the limit gets 413.
//   - GET /deliveries: the kept deliveries as a JSON array of [Delivery],
//     oldest first ("[]" when there are none).
//   - DELETE /deliveries: forgets them (204).
//   - GET /health: 200 "ok".
//
// Any other method gets 405 with an Allow header.
//
// Output lines (to [Options.Out]), one per POST:
//
//	verified <scheme> <event> id=<id> attempt=<n> sub=<sub> [user_id=<uid>] data=<json>
//	REJECTED <reason>
//
// where <event> and <id> come from the body (falling back to the
// X-Webhook-Event and webhook-id headers), <n> is X-Webhook-Attempt, <sub>
// is X-Webhook-Id (the subscription), user_id= appears only when the body
// has a top-level "user_id", and <json> is the body's "data", compacted.
// A missing value prints as "-", and a value containing spaces, quotes or
// control characters is printed Go-quoted, so fields never run together;
// data= is always last, so everything after it is the JSON.
package receiver
