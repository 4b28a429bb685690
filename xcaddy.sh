#!/usr/bin/env bash
# Builds Caddy with caddy-webhooks through xcaddy, for users who add other
# plugins: pass more `--with` flags as arguments, e.g.
#   ./xcaddy.sh --with github.com/mholt/caddy-ratelimit
# The binary is written to ./caddy (override with OUTPUT=path).
set -euo pipefail
cd "$(dirname "$0")"
module=$(go list -m)
# xcaddy ends with a bare `go get`, which looks up the deprecation notice of
# every module, this one included. This module comes from the replacement
# below, not from a proxy, and some proxies answer 403 (not 404) for a module
# they do not have, which would stop the build. So the proxies are tried in
# turn on any error and then `off`, whose "not found" Go ignores there.
# Set XCADDY_GOPROXY to use your own list (e.g. with `direct` for private
# plugins).
proxies=$(go env GOPROXY)
proxies=${proxies//,direct/}
export GOPROXY=${XCADDY_GOPROXY:-${proxies//,/|}|off}
# xcaddy v0.4.5 is pinned as a tool in tools/go.mod.
exec go tool -modfile=tools/go.mod xcaddy build v2.11.9 \
	--output "${OUTPUT:-./caddy}" \
	--with "$module@v0.0.0=." \
	"$@"
