#!/usr/bin/env bash
# Builds Caddy with caddy-webhooks through xcaddy, for users who add other
# plugins: pass more `--with` flags as arguments, e.g.
#   ./xcaddy.sh --with github.com/mholt/caddy-ratelimit
# The binary is written to ./caddy (override with OUTPUT=path).
set -euo pipefail
cd "$(dirname "$0")"
module=$(go list -m)
exec go run github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5 build v2.11.9 \
	--output "${OUTPUT:-./caddy}" \
	--with "$module=." \
	"$@"
