#!/usr/bin/env bash
# The test command: vet, the race-enabled test suite (unit and integration
# tests with real Caddy processes), then every fuzz target for FUZZTIME each.
set -euo pipefail
cd "$(dirname "$0")"
FUZZTIME=${FUZZTIME:-15s}

go vet ./...
go test -race -count=1 -timeout 30m ./...

# Each fuzz target runs on its own (go test -fuzz takes one target at a time).
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
