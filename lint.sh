#!/usr/bin/env bash
# Lints the code (tests and examples included) with golangci-lint,
# configured by .golangci.yml and pinned as a tool in tools/go.mod (v2.15.0).
# Without arguments it lints both modules of the repository: the plugin's
# (the root) and the end-to-end tests' (e2e/, a module of its own, which
# finds the same .golangci.yml). Arguments go to `golangci-lint run` on the
# root module alone, e.g. ./lint.sh --fix, or packages:
#   ./lint.sh ./rules/...
# (in e2e/: go tool -modfile=../tools/go.mod golangci-lint run --fix).
set -euo pipefail
cd "$(dirname "$0")"
if [[ $# -gt 0 ]]; then
	exec go tool -modfile=tools/go.mod golangci-lint run "$@"
fi
go tool -modfile=tools/go.mod golangci-lint run
cd e2e
exec go tool -modfile=../tools/go.mod golangci-lint run
