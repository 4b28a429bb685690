#!/usr/bin/env bash
# The test command: vet, the race-enabled test suite (unit and integration
# tests with real Caddy processes), then every fuzz target for FUZZTIME each.
set -euo pipefail
cd "$(dirname "$0")"
FUZZTIME=${FUZZTIME:-15s}

go vet ./...
go test -race -count=1 -timeout 30m ./...

# Both ways of building Caddy must give a binary with the modules.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/caddy" ./cmd/caddy
OUTPUT="$bin/caddy-xcaddy" ./xcaddy.sh >"$bin/xcaddy.log" 2>&1 || { cat "$bin/xcaddy.log"; exit 1; }
for b in "$bin/caddy" "$bin/caddy-xcaddy"; do
	mods=$("$b" list-modules)
	for m in webhooks http.handlers.webhooks; do
		grep -qx "$m" <<<"$mods" || { echo "$b lacks module $m"; exit 1; }
	done
	echo "$(basename "$b"): list-modules has webhooks and http.handlers.webhooks"
done

# Each fuzz target runs on its own (go test -fuzz takes one target at a time).
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
