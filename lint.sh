#!/usr/bin/env bash
# Lints the whole module (tests and examples included) with golangci-lint,
# configured by .golangci.yml and pinned as a tool in tools/go.mod (v2.15.0).
# Arguments go to `golangci-lint run`, e.g. ./lint.sh --fix, or packages:
#   ./lint.sh ./rules/...
set -euo pipefail
cd "$(dirname "$0")"
exec go tool -modfile=tools/go.mod golangci-lint run "$@"
