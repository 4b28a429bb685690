// Package dryrun replays recorded HTTP traffic through caddy-webhooks rules
// without Caddy, a store or an app: `caddy webhooks test` (registered here)
// reads rule files and a recording (a HAR 1.2 file, or Caddy's JSON access
// log), and prints the events that the rules would infer from it, with a
// summary per rule of what matched, fired and was skipped, and why.
//
// The evaluation is the handler's (package caddymodule): for each exchange,
// in the order recorded, the candidate rules whose status matches are
// evaluated, a rule with each once per item, all of them seeing the state
// remembered before the exchange, whose snapshots are then applied. State
// lives in memory for the run. A prefetch is answered from the recording:
// the latest earlier 2xx GET of the same path and query.
//
// The format of the output and the limits of a dry run: docs/dry-run.md.
package dryrun
