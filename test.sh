#!/usr/bin/env bash
# The test command: a check that the plugin's go.mod does not require the
# tests' modules, vet, lint, the race-enabled test suite (unit and
# integration tests with real Caddy processes, then the tests of the
# repository's other modules: e2e/, the management page in headless
# Chromium, and examples/, the example apps' rules end to end and the
# randomised catalogue test), both ways of building Caddy, then every fuzz
# target of every module for FUZZTIME each. Each phase is
# announced with "=== name" and ends with "--- name: duration" (or
# "--- FAIL name"); the total comes last.
set -euo pipefail
cd "$(dirname "$0")"
FUZZTIME=${FUZZTIME:-10s} # twelve targets: 10 s each keeps the whole run within 10 minutes on 2 cores

bin=$(mktemp -d)
t_start=$SECONDS
current= # the phase under way, named if the script stops in it
t_phase=$SECONDS

# since T: the seconds since T, as 1m05s.
since() {
	local s=$((SECONDS - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

finish() {
	local rc=$?
	rm -rf "$bin"
	if [[ $rc -ne 0 && -n $current ]]; then
		echo "--- FAIL $current after $(since "$t_phase")"
	fi
	echo "=== total $(since "$t_start")$([[ $rc -eq 0 ]] || echo ", FAILED")"
	exit $rc
}
trap finish EXIT

# phase NAME CMD...: runs CMD as the phase NAME. A failing CMD stops the
# script (set -e), and the EXIT trap names the phase.
phase() {
	current=$1
	t_phase=$SECONDS
	echo "=== $current"
	shift
	"$@"
	echo "--- $current: $(since "$t_phase")"
	current=
}

# modules BINARY: BINARY must have the modules of this repository.
modules() {
	local mods m
	mods=$("$1" list-modules)
	for m in webhooks http.handlers.webhooks webhooks.storage.badger webhooks.storage.nats admin.api.webhooks; do
		grep -qx "$m" <<<"$mods" || { echo "$1 lacks module $m"; return 1; }
	done
	echo "$(basename "$1"): list-modules has webhooks, http.handlers.webhooks, webhooks.storage.badger, webhooks.storage.nats and admin.api.webhooks"
}

build_cmd() {
	# -trimpath as xcaddy builds: most packages compiled here are then
	# shared with its build below (cold: 104 s instead of 186).
	go build -trimpath -o "$bin/caddy" ./cmd/caddy
	modules "$bin/caddy"
}

build_xcaddy() {
	OUTPUT="$bin/caddy-xcaddy" ./xcaddy.sh >"$bin/xcaddy.log" 2>&1 || { cat "$bin/xcaddy.log"; return 1; }
	modules "$bin/caddy-xcaddy"
}

# tidy: every module's go.mod and go.sum are as go mod tidy leaves them
# (a module that misses a requirement fails to lint or build later, less
# clearly).
tidy() {
	local m
	for m in . e2e examples bench tools; do
		go -C "$m" mod tidy -diff || { echo "$m: go.mod or go.sum is not tidy (diff above): run go -C $m mod tidy"; return 1; }
	done
	echo "go.mod and go.sum of ., e2e, examples, bench and tools are tidy"
}

# plugin_deps: the plugin's go.mod requires only what the plugin needs, so
# that building Caddy with it (xcaddy --with) downloads nothing else: the
# browser test's chromedp belongs to e2e/go.mod, and the examples and the
# bench programs are modules of their own (examples/go.mod, bench/go.mod),
# outside the root's ./... and its go.mod.
plugin_deps() {
	local graph pkgs
	graph=$(go mod graph)
	if grep chromedp <<<"$graph"; then
		echo "the root module's graph has chromedp (above): it belongs in e2e/go.mod"
		return 1
	fi
	pkgs=$(go list ./...)
	if grep -E '^github.com/caddy-webhooks/caddy-webhooks/(e2e|examples|bench|tools)(/|$)' <<<"$pkgs"; then
		echo "the root module has the packages above: e2e/, examples/, bench/ and tools/ need their own go.mod"
		return 1
	fi
	echo "go mod graph: no chromedp; go list ./...: nothing of e2e/, examples/, bench/, tools/"
}

phase "go.mod: no test-only modules" plugin_deps
phase "go.mod files tidy" tidy
phase "go vet" go vet ./...
phase "go vet (e2e/)" go -C e2e vet ./...
phase "go vet (examples/)" go -C examples vet ./...
phase "go vet (bench/)" go -C bench vet ./...
phase "lint (golangci-lint)" ./lint.sh
# go test prints each package's time on its ok line. The NATS backend's
# tests run 3-server clusters and several Caddy nodes with timing bounds
# (elections, failovers): they run on their own after the others, so that
# on a 2-core machine they do not share it with every other package.
nats_pkg=./storage/natsstore
phase "go test -race" go test -race -count=1 -timeout 30m $(go list ./... | grep -v "/storage/natsstore$")
phase "go test -race ($nats_pkg)" go test -race -count=1 -timeout 30m "$nats_pkg"
# The end-to-end tests and the examples are modules of their own
# (e2e/go.mod, so that the plugin does not require chromedp, and
# examples/go.mod): ./... above does not reach them. bench/ has no tests;
# its vet above checks that its programs compile.
phase "go test -race (e2e/)" go -C e2e test -race -count=1 -timeout 30m ./...
phase "go test -race (examples/)" go -C examples test -race -count=1 -timeout 30m ./...
# Both ways of building Caddy must give a binary with the modules.
phase "build ./cmd/caddy, list-modules" build_cmd
phase "build with ./xcaddy.sh, list-modules" build_xcaddy

# Each fuzz target runs on its own (go test -fuzz takes one target at a
# time), in every module of the repository. The targets are found in the
# sources, which is quicker than linking every test binary for go test
# -list.
targets=()
for mod in . e2e examples bench; do
	pkgdirs=$(go -C "$mod" list -f '{{.Dir}} {{.ImportPath}}' ./...)
	while read -r dir pkg; do
		for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$dir"/*_test.go 2>/dev/null); do
			targets+=("$mod $pkg $target")
		done
	done <<<"$pkgdirs"
done
# -fuzzminimizetime: go test minimizes each input that finds new coverage
# for up to 60 s by default, and runs nothing else meanwhile: a large input
# of FuzzCheck (internal/jsonbody) stalled its 15 s at ~40k executions, and
# once a run ended in the middle of it ("context deadline exceeded"). With
# 2 s it made 570k executions in 20 s (one run), without a stall.
#
# fuzz_one MOD PKG TARGET: a run that fails with a bare "context deadline
# exceeded" and writes no failing input is a race in Go's fuzzing
# coordinator at the end of -fuzztime (golang/go#75804, fixed in Go 1.27),
# not a finding: that run is made once more. Any other failure, or a
# failing input written to testdata/fuzz, fails at once.
inputs() { # inputs DIR: how many files DIR holds (0 if none)
	local f
	shopt -s nullglob
	f=("$1"/*)
	shopt -u nullglob
	echo ${#f[@]}
}
fuzz_one() {
	local mod=$1 pkg=$2 target=$3 out corpus before try
	out=$(mktemp)
	corpus="$(go -C "$mod" list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
	for try in 1 2; do
		before=$(inputs "$corpus")
		if go -C "$mod" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$out"; then
			rm -f "$out"
			return 0
		fi
		if ((try == 2)) || ! grep -qx '    context deadline exceeded' "$out" || (($(inputs "$corpus") != before)); then
			rm -f "$out"
			return 1
		fi
		echo "fuzz: a bare 'context deadline exceeded' with no failing input (golang/go#75804): once more"
	done
}
for pt in "${targets[@]}"; do
	read -r mod pkg target <<<"$pt"
	phase "fuzz $pkg $target ($FUZZTIME)" fuzz_one "$mod" "$pkg" "$target"
done
