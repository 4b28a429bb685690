// Package caddywebhooks is the import path that Caddy builds use to include
// caddy-webhooks (xcaddy --with github.com/caddy-webhooks/caddy-webhooks):
// it registers the modules of packages caddymodule and admin, and the
// storage backends (webhooks.storage.badger, embedded; webhooks.storage.nats,
// on a NATS JetStream cluster), and the command `caddy webhooks test` of
// package dryrun (a dry run of rules on recorded traffic).
package caddywebhooks

import (
	_ "github.com/caddy-webhooks/caddy-webhooks/admin"
	_ "github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	_ "github.com/caddy-webhooks/caddy-webhooks/dryrun"
	_ "github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	_ "github.com/caddy-webhooks/caddy-webhooks/storage/natsstore"
)
