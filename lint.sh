#!/usr/bin/env bash
# Lints the code (tests and examples included) with golangci-lint,
# configured by .golangci.yml and pinned as a tool in tools/go.mod (v2.15.0).
# Without arguments it lints every Go module of the repository that has
# code: the plugin's (the root), the end-to-end tests' (e2e/), the
# examples' (examples/) and the benchmark programs' (bench/); each is a
# module of its own and finds the same .golangci.yml. Arguments go to
# `golangci-lint run` on the root module alone, e.g. ./lint.sh --fix, or
# packages:
#   ./lint.sh ./rules/...
# (in another module, e.g. examples/:
#   cd examples && go tool -modfile=../tools/go.mod golangci-lint run --fix).
#
# Another golangci-lint running on the machine (another checkout, an
# editor) is waited for rather than failing the run.
set -euo pipefail
cd "$(dirname "$0")"
if [[ $# -gt 0 ]]; then
	exec go tool -modfile=tools/go.mod golangci-lint run --allow-serial-runners "$@"
fi
go tool -modfile=tools/go.mod golangci-lint run --allow-serial-runners
for mod in e2e examples bench; do
	(cd "$mod" && go tool -modfile=../tools/go.mod golangci-lint run --allow-serial-runners)
done
